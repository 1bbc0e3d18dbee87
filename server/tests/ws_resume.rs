//! A browser that reconnects with the cursor of the last message it got receives exactly the
//! changes it missed (or a resync): the cursor counts the hub's publications, not log
//! positions, so changes of slower projections at lower positions are not lost.

mod common;

use std::time::Duration;

use common::TestApp;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(app.ws_request())
        .await
        .expect("ws connects");
    ws
}

/// The next message of type `kind`, skipping others; `None` if none comes within `wait`.
async fn next_of(ws: &mut Ws, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        let Ok(Message::Text(text)) = msg else {
            continue;
        };
        let value: Value = serde_json::from_str(text.as_str()).expect("server message is JSON");
        if value["type"] == kind {
            return Some(value);
        }
    }
}

async fn subscribe(ws: &mut Ws, resume: Value) -> Value {
    let message =
        json!({ "type": "subscribe", "topics": [{ "topic": "customers" }], "resume": resume });
    ws.send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
    next_of(ws, "subscribed", Duration::from_secs(10))
        .await
        .expect("subscribed")
}

#[tokio::test]
async fn a_reconnect_with_the_cursor_gets_exactly_what_was_missed() {
    let app = TestApp::spawn().await;
    let mut ws = connect(&app).await;
    let subscribed = subscribe(&mut ws, Value::Null).await;
    let hub = subscribed["resume"]["hub"].clone();
    assert!(hub.is_string(), "{subscribed}");

    // One change received live: the cursor is its number.
    let first = app.customer("Seen Live").await;
    let changed = next_of(&mut ws, "changed", Duration::from_secs(10))
        .await
        .expect("a live change");
    assert!(
        changed["change"]["streams"]
            .to_string()
            .contains(&first.to_string())
    );
    let cursor = json!({ "hub": hub, "seq": changed["seq"] });
    ws.close(None).await.ok();

    // Away: two customers are registered (and other read models publish too).
    let missed_a = app.customer("Missed One").await;
    let missed_b = app.customer("Missed Two").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Back with the cursor: both missed changes, not the one already seen, no resync.
    let mut ws = connect(&app).await;
    subscribe(&mut ws, cursor.clone()).await;
    let mut streams = Vec::new();
    while let Some(changed) = next_of(&mut ws, "changed", Duration::from_secs(2)).await {
        streams.push(changed["change"]["streams"].to_string());
    }
    let all = streams.join(" ");
    assert!(all.contains(&missed_a.to_string()), "{streams:?}");
    assert!(all.contains(&missed_b.to_string()), "{streams:?}");
    assert!(
        !all.contains(&first.to_string()),
        "the seen change is not repeated: {streams:?}"
    );
    ws.close(None).await.ok();

    // A cursor of another hub (a restart, another instance) is a resync.
    let mut ws = connect(&app).await;
    subscribe(&mut ws, json!({ "hub": "another-hub", "seq": 1 })).await;
    assert!(
        next_of(&mut ws, "resync", Duration::from_secs(10))
            .await
            .is_some(),
        "a foreign cursor resyncs"
    );
    ws.close(None).await.ok();
    app.stop().await;
}
