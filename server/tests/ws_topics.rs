//! Websockets forward the changes of every read model a page shows: a client subscribed to the
//! products and customers topics gets a change naming the new product's / customer's stream,
//! and a client subscribed to other topics does not get them.

mod common;

use std::time::Duration;

use common::TestApp;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(app: &TestApp, topics: Value) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_request())
        .await
        .expect("ws connects");
    ws.send(Message::Text(
        json!({ "type": "subscribe", "topics": topics, "since": null })
            .to_string()
            .into(),
    ))
    .await
    .expect("subscribe sent");
    let subscribed = next_where(&mut ws, Duration::from_secs(10), |m| {
        m["type"] == "subscribed"
    })
    .await
    .expect("subscribed");
    assert_eq!(subscribed["topics"], topics);
    ws
}

/// The next server message for which `want` holds, or `None` after `within`.
async fn next_where(ws: &mut Ws, within: Duration, want: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        let Some(Ok(Message::Text(text))) = msg else {
            continue;
        };
        let value: Value = serde_json::from_str(text.as_str()).expect("server message is JSON");
        if want(&value) {
            return Some(value);
        }
    }
}

fn change_of(message: &Value, projection: &str, stream: &str) -> bool {
    message["type"] == "changed"
        && message["change"]["projection"] == projection
        && message["change"]["streams"]
            .as_array()
            .is_some_and(|s| s.contains(&json!(stream)))
}

#[tokio::test]
async fn products_and_customers_changes_reach_their_subscribers_only() {
    let app = TestApp::spawn().await;
    let mut pages = subscribe(
        &app,
        json!([{ "topic": "products" }, { "topic": "customers" }]),
    )
    .await;
    let mut orders_only = subscribe(&app, json!([{ "topic": "orders" }])).await;

    let product = format!("product-{}", app.product("WS-1", 250).await);
    let customer = format!("customer-{}", app.customer("Grace Hopper").await);

    let wait = Duration::from_secs(10);
    let got = next_where(&mut pages, wait, |m| change_of(m, "products", &product)).await;
    let got = got.expect("the products change");
    assert!(got["position"].as_i64().is_some_and(|p| p >= 1), "{got}");
    // The change carries no rows: pages refetch what they show.
    assert_eq!(got["change"].get("orders"), None, "{got}");
    assert!(
        next_where(&mut pages, wait, |m| change_of(m, "customers", &customer))
            .await
            .is_some(),
        "the customers change"
    );

    // Both changes were published before they reached `pages`; the orders-only client, which
    // was subscribed as early, has had them offered and must have dropped them.
    let other = next_where(&mut orders_only, Duration::from_secs(1), |m| {
        m["type"] == "changed" && m["change"]["projection"] != "orders"
    });
    assert_eq!(other.await, None::<Value>);
    pages.close(None).await.ok();
    orders_only.close(None).await.ok();
    app.stop().await;
}

#[tokio::test]
async fn the_stats_topic_pushes_the_logs_statistics_as_it_grows() {
    let app = TestApp::spawn().await;
    let mut ws = subscribe(&app, json!([{ "topic": "stats" }])).await;
    let first = next_where(&mut ws, Duration::from_secs(10), |m| m["type"] == "stats")
        .await
        .expect("a stats message");
    let before = first["stats"]["total"].as_i64().unwrap_or_default();
    app.customer("Counted Live").await;
    // Other appends (the bootstrap admin's account, written as the app starts) may push a
    // message first: wait for the one that counts the customer.
    let counts_customer = |m: &Value| {
        m["stats"]["by_stream_type"]
            .as_array()
            .is_some_and(|counts| {
                counts
                    .iter()
                    .any(|c| c["name"] == "customer" && c["count"] == 1)
            })
    };
    let grown = next_where(&mut ws, Duration::from_secs(10), |m| {
        m["type"] == "stats" && counts_customer(m)
    })
    .await
    .expect("the statistics count the new customer");
    assert!(grown["stats"]["total"].as_i64() > Some(before), "{grown}");
    app.stop().await;
}
