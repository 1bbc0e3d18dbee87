//! Websockets: subscribe, live update after a command, resume from a position, Origin check.

mod common;

use std::time::Duration;

use common::TestApp;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(app.ws_request())
        .await
        .expect("ws connects");
    ws
}

async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} message in time"));
        let Some(Ok(Message::Text(text))) = msg else {
            continue;
        };
        let value: Value = serde_json::from_str(text.as_str()).expect("server message is JSON");
        assert!(
            value["position"].is_i64(),
            "every message has a position: {value}"
        );
        if value["type"] == kind {
            return value;
        }
    }
}

#[tokio::test]
async fn subscribe_then_live_change_then_resume() {
    let app = TestApp::spawn().await;
    let mut ws = connect(&app).await;
    ws.send(Message::Text(json!({ "type": "subscribe", "topics": [{ "topic": "orders" }, { "topic": "projections" }], "since": null }).to_string().into())).await.unwrap();
    let subscribed = next_of(&mut ws, "subscribed").await;
    assert_eq!(subscribed["topics"].as_array().map(Vec::len), Some(2));
    let status = next_of(&mut ws, "projections").await;
    assert_eq!(
        status["projections"].as_array().map(Vec::len),
        Some(domain::live::ProjectionName::ALL.len())
    );

    let (order, reply) = app.order().await;
    let stream = json!(format!("order-{order}"));
    let changed = loop {
        let changed = next_of(&mut ws, "changed").await;
        assert_eq!(changed["change"]["projection"], "orders");
        if changed["change"]["streams"]
            .as_array()
            .unwrap()
            .contains(&stream)
        {
            break changed;
        }
    };
    let position = reply["position"].as_i64().unwrap();
    assert!(changed["position"].as_i64().unwrap() >= position);

    ws.send(Message::Text(json!({ "type": "ping" }).to_string().into()))
        .await
        .unwrap();
    next_of(&mut ws, "pong").await;
    ws.close(None).await.ok();

    // Resume from before the order: the change is replayed.
    let mut ws = connect(&app).await;
    ws.send(Message::Text(
        json!({ "type": "subscribe", "topics": [{ "topic": "order", "id": order }], "since": 0 })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    next_of(&mut ws, "subscribed").await;
    let replayed = next_of(&mut ws, "changed").await;
    assert!(
        replayed["change"]["streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == &json!(format!("order-{order}")))
    );

    // Bad message: an error, the connection stays.
    ws.send(Message::Text("{\"type\":\"nope\"}".into()))
        .await
        .unwrap();
    next_of(&mut ws, "error").await;
    ws.close(None).await.ok();
    app.stop().await;
}

#[tokio::test]
async fn resume_from_before_the_process_started_is_a_resync() {
    let app = TestApp::spawn().await;
    app.order().await;
    let data_dir = app.data_dir.clone();
    // Restart on the same data: the head is now > 0, so since=0 cannot be served.
    let mut config = common::test_config();
    let _ = std::fs::remove_dir_all(&config.data_dir);
    config.data_dir = data_dir.clone();
    app_stop_keep_data(app).await;
    let app = TestApp::spawn_with(config).await;
    let mut ws = connect(&app).await;
    ws.send(Message::Text(
        json!({ "type": "subscribe", "topics": [{ "topic": "orders" }], "since": 0 })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    next_of(&mut ws, "subscribed").await;
    let resync = next_of(&mut ws, "resync").await;
    assert!(resync["position"].as_i64().unwrap() >= 2);
    ws.close(None).await.ok();
    app.stop().await;
}

async fn app_stop_keep_data(mut app: TestApp) {
    // Stop without deleting the directory.
    app.data_dir = std::env::temp_dir().join(format!("eventide_none_{}", uuid::Uuid::now_v7()));
    app.stop().await;
}

#[tokio::test]
async fn foreign_origin_is_refused() {
    let app = TestApp::spawn().await;
    let mut request = format!("ws://{}/ws", app.host)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let mut request = format!("ws://{}/ws", app.host)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", format!("http://{}", app.host).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    app.stop().await;
}

#[tokio::test]
async fn oversized_client_message_closes_the_connection() {
    let mut config = common::test_config();
    config.ws_max_message_bytes = 1024;
    let app = TestApp::spawn_with(config).await;
    let mut ws = connect(&app).await;
    let _ = ws.send(Message::Text("x".repeat(4096).into())).await;
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "connection closed");
    app.stop().await;
}
