//! Stock over REST: a confirmation without enough stock is a 422 naming every short line and
//! writes nothing; receiving and counting stock; the low-stock list; a count below what is
//! reserved is refused.

mod common;

use common::{TestApp, id};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn product(app: &TestApp, sku: &str, stock: i64) -> uuid::Uuid {
    let (status, body) = app
        .post(
            "/api/products",
            json!({ "sku": sku, "name": format!("Product {sku}"), "price_cents": 500, "initial_stock": stock }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    id(&body)
}

async fn stock_of(app: &TestApp, product: uuid::Uuid, position: i64) -> (i64, i64, i64) {
    let (status, body) = app
        .get_json(&format!("/api/products/{product}?min_position={position}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = &body["data"];
    (
        d["on_hand"].as_i64().unwrap_or(-1),
        d["reserved"].as_i64().unwrap_or(-1),
        d["available"].as_i64().unwrap_or(-1),
    )
}

#[tokio::test]
async fn stock_is_reserved_on_confirmation_and_refusals_say_why() {
    let app = TestApp::spawn().await;
    let a = product(&app, "ST-A", 2).await;
    let b = product(&app, "ST-B", 0).await;
    let c = product(&app, "ST-C", 10).await;
    let customer = app.customer("Stock Buyer").await;
    let (status, placed) = app
        .post(
            "/api/orders",
            json!({ "customer_id": customer, "lines": [
                { "product_id": a, "quantity": 3 },
                { "product_id": b, "quantity": 1 },
                { "product_id": c, "quantity": 4 },
            ] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order = id(&placed);
    let before = app.event_total().await;
    let (status, refused) = app
        .post(&format!("/api/orders/{order}/confirm"), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "insufficient_stock");
    let shortages: Vec<(String, i64, i64)> = refused["error"]["details"]["shortages"]
        .as_array()
        .expect("shortages")
        .iter()
        .map(|s| {
            (
                s["sku"].as_str().unwrap_or_default().to_owned(),
                s["requested"].as_i64().unwrap_or(-1),
                s["available"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        shortages,
        [("ST-A".to_owned(), 3, 2), ("ST-B".to_owned(), 1, 0)]
    );
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("ST-A: 3 wanted, 2 available"), "{message}");
    assert_eq!(app.event_total().await, before, "a refusal writes nothing");

    // Receive what is missing; the confirmation then reserves every line at once.
    for (p, units) in [(a, 1), (b, 1)] {
        let (status, body) = app
            .post(
                &format!("/api/products/{p}/stock"),
                json!({ "quantity": units }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, confirmed) = app
        .post(&format!("/api/orders/{order}/confirm"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let position = confirmed["position"].as_i64().expect("position");
    assert_eq!(stock_of(&app, a, position).await, (3, 3, 0));
    assert_eq!(stock_of(&app, c, position).await, (10, 4, 6));

    // Low stock: the two sold-out products, least available first.
    let (status, low) = app
        .get_json(&format!("/api/low-stock?min_position={position}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{low}");
    let skus: Vec<&str> = low["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["sku"].as_str())
        .filter(|s| s.starts_with("ST-"))
        .collect();
    assert_eq!(skus, ["ST-A", "ST-B"]);

    // A count below what is reserved is refused; a count above it holds.
    let res = app
        .send(
            Method::PUT,
            &format!("/api/products/{c}/stock"),
            Some(json!({ "on_hand": 3, "reason": "stocktake" })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "stock_below_reserved", "{body}");
    let res = app
        .send(
            Method::PUT,
            &format!("/api/products/{c}/stock"),
            Some(json!({ "on_hand": 7, "reason": "stocktake" })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Cancelling gives the reservation back; bad input is a 400.
    let (status, cancelled) = app
        .post(
            &format!("/api/orders/{order}/cancel"),
            json!({ "reason": "changed my mind" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let position = cancelled["position"].as_i64().expect("position");
    assert_eq!(stock_of(&app, c, position).await, (7, 0, 7));
    let (status, body) = app
        .post(
            &format!("/api/products/{a}/stock"),
            json!({ "quantity": -1 }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.stop().await;
}
