//! A websocket client that stops reading is disconnected with close code 4008 once its
//! outgoing queue is full, instead of buffering without bound or slowing anyone else down.

mod common;

use std::time::Duration;

use common::{TestApp, test_config};
use futures::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn a_client_that_does_not_read_is_closed_with_4008() {
    let mut config = test_config();
    config.ws_queue = 4;
    let app = TestApp::spawn_with(config).await;
    let (ws, _) = tokio_tungstenite::connect_async(app.ws_request())
        .await
        .expect("ws connects");
    let (mut tx, mut rx) = ws.split();

    // Every ping asks for a pong; without reading, the pongs fill the socket buffers, then the
    // server's per-client queue.
    let ping = r#"{"type":"ping"}"#;
    for _ in 0..200_000 {
        if tx.send(Message::Text(ping.into())).await.is_err() {
            break; // the server already gave up on us
        }
    }

    // Now read: past the pongs that made it out, the server's close frame says why.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let close = loop {
        match tokio::time::timeout_at(deadline, rx.next()).await {
            Err(_) => panic!("the slow client was not disconnected in time"),
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(error))) => panic!("connection failed without a close frame: {error}"),
            Ok(None) => panic!("connection ended without a close frame"),
        }
    };
    let frame = close.expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Library(4008), "{frame:?}");
}
