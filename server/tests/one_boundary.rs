//! REST and the Leptos server functions are two adapters over one application layer: placing an
//! order with its lines is one atomic, idempotent command on both; a UI command carries the
//! request's correlation id; the same failure has the same status and code on both; UI
//! commands are counted in the command metrics.

mod common;

use common::{TestApp, error_code, id};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

fn server_fn_path(name: &str) -> String {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .find(|path| path.starts_with(&format!("/fn/{name}")))
        .unwrap_or_else(|| panic!("server function {name} is registered"))
}

/// Calls a JSON-encoded server function; `(status, body, response headers)`.
async fn call_json(
    app: &TestApp,
    name: &str,
    body: Value,
    correlation: Option<Uuid>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = app
        .client
        .post(app.url(&server_fn_path(name)))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string());
    if let Some(c) = correlation {
        request = request.header("x-correlation-id", c.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

/// Calls a URL-encoded server function.
async fn call_form(app: &TestApp, name: &str, form: &[(&str, String)]) -> (StatusCode, Value) {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let response = app
        .client
        .post(app.url(&server_fn_path(name)))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn stream_events(app: &TestApp, stream: &str) -> (StatusCode, Value) {
    app.get_json(&format!("/api/streams/{stream}/events")).await
}

#[tokio::test]
async fn rest_places_an_order_with_its_lines_atomically_and_idempotently() {
    let app = TestApp::spawn().await;
    let customer = app.customer("Lina Lines").await;
    let a = app.product("ONE-A", 250).await;
    let b = app.product("ONE-B", 1000).await;
    let before = app.event_total().await;

    // Line 2 is refused (unknown product): no order, nothing written.
    let order_id = Uuid::now_v7();
    let (status, body) = app
        .post(
            "/api/orders",
            json!({
                "order_id": order_id,
                "customer_id": customer,
                "lines": [ { "product_id": a, "quantity": 1 }, { "product_id": Uuid::now_v7(), "quantity": 1 } ],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(error_code(&body), "product_not_found");
    let (status, _) = stream_events(&app, &format!("order-{order_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the order does not exist");
    assert_eq!(app.event_total().await, before, "nothing written");

    // Accepted: one order with both lines; the same key again is a replay.
    let send = || {
        app.client
            .post(app.url("/api/orders"))
            .header("idempotency-key", "rest-place-1")
            .json(&json!({
                "customer_id": customer,
                "lines": [ { "product_id": a, "quantity": 2 }, { "product_id": b, "quantity": 1 } ],
            }))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["version"], 3);
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    let order = id(&first);
    let position = first["position"].as_i64().unwrap();
    let (status, detail) = app
        .get_json(&format!("/api/orders/{order}?min_position={position}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["data"]["lines"].as_array().map(Vec::len), Some(2));
    assert_eq!(detail["data"]["total_cents"], 2 * 250 + 1000);
    assert_eq!(app.event_total().await, before + 3);
    app.stop().await;
}

#[tokio::test]
async fn the_ui_places_with_lines_in_one_command_with_the_request_correlation_id() {
    let app = TestApp::spawn().await;
    let customer = app.customer("Uma Interface").await;
    let a = app.product("UI-A", 300).await;
    let before = app.event_total().await;

    // A refused line leaves no order (the old UI placed the order, then failed on the line).
    let (status, body, _) = call_json(
        &app,
        "place_order",
        json!({
            "order": { "customer_id": customer, "lines": [
                { "product_id": a, "quantity": 1 },
                { "product_id": Uuid::now_v7(), "quantity": 1 },
            ] },
            "idempotency_key": "ui-refused-1",
        }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "product_not_found", "{body}");
    assert_eq!(app.event_total().await, before, "nothing written");

    let correlation = Uuid::now_v7();
    let submit = json!({
        "order": { "customer_id": customer, "lines": [ { "product_id": a, "quantity": 4 } ] },
        "idempotency_key": "ui-form-submission-1",
    });
    let (status, reply, headers) =
        call_json(&app, "place_order", submit.clone(), Some(correlation)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        headers
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok()),
        Some(correlation.to_string().as_str()),
        "the response echoes the request's correlation id"
    );
    let order = id(&reply);
    let (status, events) = stream_events(&app, &format!("order-{order}")).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let events = events.as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 2, "OrderPlaced and one ItemAdded");
    for event in &events {
        assert_eq!(event["correlation_id"], correlation.to_string(), "{event}");
    }
    assert_eq!(
        events[0]["causation_id"], events[1]["causation_id"],
        "one command caused both events"
    );

    // The browser retries the same submission: the same order, nothing written.
    let total = app.event_total().await;
    let (status, again, _) = call_json(&app, "place_order", submit, None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, reply);
    assert_eq!(app.event_total().await, total);

    // UI commands are counted in the command metrics like REST ones.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"eventide_commands_total{command="place_order",outcome="ok"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"eventide_commands_total{command="place_order",outcome="product_not_found"}"#
        ),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_same_failure_has_the_same_status_and_code_over_rest_and_the_ui() {
    let app = TestApp::spawn().await;
    let customer = app.customer("Eve Errors").await;
    let product = app.product("ERR-1", 100).await;
    let (order, _) = app.order().await;

    // A missing order.
    let missing = Uuid::now_v7();
    let (rest_status, rest) = app
        .post(
            &format!("/api/orders/{missing}/items"),
            json!({ "product_id": product, "quantity": 1 }),
        )
        .await;
    let (ui_status, ui) = call_form(
        &app,
        "add_item",
        &[
            ("order_id", missing.to_string()),
            ("expected_version", "0".into()),
            ("product_id", product.to_string()),
            ("quantity", "1".into()),
        ],
    )
    .await;
    assert_eq!(
        (rest_status, error_code(&rest).as_str()),
        (StatusCode::NOT_FOUND, "order_not_found")
    );
    assert_eq!(
        (ui_status, ui["code"].as_str()),
        (rest_status, Some("order_not_found")),
        "{ui}"
    );

    // A stale version.
    let response = app
        .client
        .post(app.url(&format!("/api/orders/{order}/items")))
        .header("if-match", "7")
        .json(&json!({ "product_id": product, "quantity": 1 }))
        .send()
        .await
        .unwrap();
    let rest_status = response.status();
    let rest: Value = response.json().await.unwrap();
    let (ui_status, ui) = call_form(
        &app,
        "add_item",
        &[
            ("order_id", order.to_string()),
            ("expected_version", "7".into()),
            ("product_id", product.to_string()),
            ("quantity", "1".into()),
        ],
    )
    .await;
    assert_eq!(
        (rest_status, error_code(&rest).as_str()),
        (StatusCode::CONFLICT, "version_conflict")
    );
    assert_eq!(
        (ui_status, ui["code"].as_str()),
        (rest_status, Some("version_conflict")),
        "{ui}"
    );

    // An invalid quantity.
    let (rest_status, rest) = app
        .post(
            &format!("/api/orders/{order}/items"),
            json!({ "product_id": product, "quantity": 0 }),
        )
        .await;
    let (ui_status, ui) = call_form(
        &app,
        "add_item",
        &[
            ("order_id", order.to_string()),
            ("expected_version", "1".into()),
            ("product_id", product.to_string()),
            ("quantity", "0".into()),
        ],
    )
    .await;
    assert_eq!(rest_status, StatusCode::BAD_REQUEST, "{rest}");
    assert_eq!(
        (ui_status, ui["code"].as_str()),
        (rest_status, Some(error_code(&rest).as_str())),
        "{ui}"
    );

    // A rule: confirming an empty draft.
    let (rest_status, rest) = app
        .post(&format!("/api/orders/{order}/confirm"), json!({}))
        .await;
    let (ui_status, ui) = call_form(
        &app,
        "transition_order",
        &[
            ("order_id", order.to_string()),
            ("expected_version", "1".into()),
            ("transition", "Confirm".into()),
        ],
    )
    .await;
    assert_eq!(rest_status, StatusCode::UNPROCESSABLE_ENTITY, "{rest}");
    assert_eq!(
        (ui_status, ui["code"].as_str()),
        (rest_status, Some(error_code(&rest).as_str())),
        "{ui}"
    );

    // A missing customer.
    let (rest_status, rest) = app
        .post("/api/orders", json!({ "customer_id": Uuid::now_v7() }))
        .await;
    let (ui_status, ui, _) = call_json(
        &app,
        "place_order",
        json!({ "order": { "customer_id": Uuid::now_v7() }, "idempotency_key": null }),
        None,
    )
    .await;
    assert_eq!(
        (rest_status, error_code(&rest).as_str()),
        (StatusCode::NOT_FOUND, "customer_not_found")
    );
    assert_eq!(
        (ui_status, ui["code"].as_str()),
        (rest_status, Some("customer_not_found")),
        "{ui}"
    );

    // An idempotency key reused for another request.
    let key = "reused-key-1";
    let response = app
        .client
        .post(app.url("/api/orders"))
        .header("idempotency-key", key)
        .json(&json!({ "customer_id": customer }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let other = app.customer("Other Person").await;
    let response = app
        .client
        .post(app.url("/api/orders"))
        .header("idempotency-key", key)
        .json(&json!({ "customer_id": other }))
        .send()
        .await
        .unwrap();
    let rest_status = response.status();
    let rest: Value = response.json().await.unwrap();
    let (ui_status, ui, _) = call_json(
        &app,
        "place_order",
        json!({ "order": { "customer_id": other }, "idempotency_key": key }),
        None,
    )
    .await;
    assert_eq!(
        (rest_status, error_code(&rest).as_str()),
        (StatusCode::CONFLICT, "idempotency_key_reused")
    );
    assert_eq!(
        (ui_status, ui["code"].as_str()),
        (rest_status, Some("idempotency_key_reused")),
        "{ui}"
    );
    app.stop().await;
}
