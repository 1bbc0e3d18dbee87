//! HTTP-level tests of the REST API on SQLite: commands, queries, errors, headers.

mod common;

use common::{TestApp, error_code, id};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn order_lifecycle_commands_and_queries() {
    let app = TestApp::spawn().await;
    let customer = app.customer("Grace Hopper").await;
    let product = app.product("SKU-1", 1999).await;
    let product2 = app.product("SKU-2", 500).await;

    // Place with a client-chosen id.
    let order = Uuid::now_v7();
    let (status, reply) = app
        .post(
            "/api/orders",
            json!({ "order_id": order, "customer_id": customer }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(id(&reply), order);
    assert_eq!(reply["version"], 1);

    let (status, reply) = app
        .post(
            &format!("/api/orders/{order}/items"),
            json!({ "product_id": product, "quantity": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, reply) = app
        .post(
            &format!("/api/orders/{order}/items"),
            json!({ "product_id": product2, "quantity": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let r = app
        .send(
            Method::PUT,
            &format!("/api/orders/{order}/items/{product}"),
            Some(json!({ "quantity": 3 })),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .send(
            Method::DELETE,
            &format!("/api/orders/{order}/items/{product2}"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = app
        .post(&format!("/api/orders/{order}/confirm"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            &format!("/api/orders/{order}/ship"),
            json!({ "carrier": "DHL", "tracking_number": "TRACK123" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, reply) = app
        .post(&format!("/api/orders/{order}/deliver"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let position = reply["position"].as_i64().unwrap();

    // Read your write.
    let (status, detail) = app
        .get_json(&format!("/api/orders/{order}?min_position={position}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["stale"], false);
    assert_eq!(detail["data"]["status"], "delivered");
    assert_eq!(detail["data"]["lines"].as_array().unwrap().len(), 1);
    assert_eq!(detail["data"]["total_cents"], 3 * 1999);

    let (status, list) = app
        .get_json(&format!(
            "/api/orders?min_position={position}&status=delivered&customer={customer}&limit=5"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["data"]["orders"].as_array().unwrap().len(), 1);
    for path in [
        "/api/customers",
        "/api/products",
        "/api/dashboard",
        "/api/activity?limit=5",
    ] {
        let (status, body) = app
            .get_json(&format!(
                "{path}{}min_position={position}",
                if path.contains('?') { "&" } else { "?" }
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(body["position"].as_i64().unwrap() >= 0, "{path}: {body}");
    }
    let (status, one) = app
        .get_json(&format!(
            "/api/customers/{customer}?min_position={position}"
        ))
        .await;
    assert_eq!(
        (status, one["data"]["name"].as_str()),
        (StatusCode::OK, Some("Grace Hopper"))
    );
    let (status, one) = app
        .get_json(&format!("/api/products/{product}?min_position={position}"))
        .await;
    assert_eq!(
        (status, one["data"]["sku"].as_str()),
        (StatusCode::OK, Some("SKU-1"))
    );

    // Audit timeline.
    let (status, events) = app
        .get_json(&format!("/api/streams/order-{order}/events"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 8);
    assert_eq!(events[0]["event_type"], "OrderPlaced");
    // The test client acts as the bootstrap admin (its bearer token).
    assert!(events[0]["correlation_id"].is_string() && events[0]["user_id"] == "admin");
    let (status, streams) = app.get_json("/api/streams?type=order&limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(streams["streams"].as_array().unwrap().len(), 1);

    // Customer and product commands.
    let (s, _) = app
        .post(
            &format!("/api/customers/{customer}/rename"),
            json!({ "name": "Grace B. Hopper" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .post(
            &format!("/api/customers/{customer}/email"),
            json!({ "email": "grace@navy.mil" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .post(
            &format!("/api/products/{product}/reprice"),
            json!({ "price_cents": 2499 }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .post(
            &format!("/api/products/{product}/rename"),
            json!({ "name": "Better product" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .post(&format!("/api/products/{product}/discontinue"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = app
        .post(
            &format!("/api/products/{product}/reprice"),
            json!({ "price_cents": 1 }),
        )
        .await;
    assert_eq!(
        (s, error_code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "product_discontinued")
    );

    // Cancel another order.
    let (order2, _) = app.order().await;
    let (s, _) = app
        .post(
            &format!("/api/orders/{order2}/cancel"),
            json!({ "reason": "Changed my mind" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn if_match_conflict_is_409_with_current_version() {
    let app = TestApp::spawn().await;
    let (order, reply) = app.order().await;
    assert_eq!(reply["version"], 1);
    let r = app
        .client
        .post(app.url(&format!("/api/orders/{order}/cancel")))
        .header("If-Match", "5")
        .json(&json!({ "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "version_conflict");
    assert_eq!(body["error"]["details"]["current_version"], 1);
    let r = app
        .client
        .post(app.url(&format!("/api/orders/{order}/cancel")))
        .header("If-Match", "\"1\"")
        .json(&json!({ "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .post(app.url(&format!("/api/orders/{order}/confirm")))
        .header("If-Match", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn idempotency_key_replays_the_first_reply() {
    let app = TestApp::spawn().await;
    let send = |name: &'static str| {
        app.client
            .post(app.url("/api/customers"))
            .header("Idempotency-Key", "key-123")
            .json(&json!({ "name": name, "email": "a@example.com" }))
            .send()
    };
    let first = send("Alan Turing").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = send("Alan Turing").await.unwrap();
    assert!(second.status().is_success());
    assert_eq!(
        second
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.event_total().await, 1);
    let third = send("Someone Else").await.unwrap();
    assert_eq!(third.status(), StatusCode::CONFLICT);
    assert_eq!(
        error_code(&third.json().await.unwrap()),
        "idempotency_key_reused"
    );
    app.stop().await;
}

#[tokio::test]
async fn traceparent_is_continued_into_the_events() {
    let app = TestApp::spawn().await;
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let register = |trace: Option<&'static str>, name: &'static str| {
        let mut request = app.client.post(app.url("/api/customers")).json(
            &json!({ "name": name, "email": format!("{}@example.com", name.to_lowercase()) }),
        );
        if let Some(trace) = trace {
            request = request.header("traceparent", trace);
        }
        request.send()
    };
    let recorded = |id: Uuid| {
        let app = &app;
        async move {
            let (status, events) = app
                .get_json(&format!("/api/streams/customer-{id}/events"))
                .await;
            assert_eq!(status, StatusCode::OK, "{events}");
            events[0]["traceparent"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    // The caller's trace continues: same trace id, our span as the parent, same flags.
    let r = register(Some(caller), "Traced").await.expect("request");
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored = recorded(id(&r.json().await.expect("json"))).await;
    let parsed = eventstore::TraceParent::parse(&stored).expect("a valid traceparent");
    assert_eq!(parsed.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(parsed.parent_id_hex(), "00f067aa0ba902b7");
    assert_eq!(parsed.flags, 1);
    // None given, or an invalid one: a new trace (never a refusal).
    for (trace, name) in [(None, "Untraced"), (Some("00-nonsense"), "Badly")] {
        let r = register(trace, name).await.expect("request");
        assert_eq!(r.status(), StatusCode::CREATED);
        let stored = recorded(id(&r.json().await.expect("json"))).await;
        let parsed = eventstore::TraceParent::parse(&stored).expect("a new trace");
        assert_ne!(parsed.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }
    app.stop().await;
}

#[tokio::test]
async fn correlation_id_is_echoed_and_stored() {
    let app = TestApp::spawn().await;
    let correlation = Uuid::now_v7();
    let r = app
        .client
        .post(app.url("/api/customers"))
        .header("X-Correlation-Id", correlation.to_string())
        .header("X-User-Id", "alice")
        .json(&json!({ "name": "Ada", "email": "ada@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.headers()
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok()),
        Some(correlation.to_string().as_str())
    );
    let (status, events) = app
        .get_json(&format!("/api/correlations/{correlation}/events"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["correlation_id"], correlation.to_string());
    // `X-User-Id: alice` is ignored: the user is the authenticated one.
    assert_eq!(events[0]["user_id"], "admin");
    // Generated when absent.
    let r = app.get("/health").await;
    let generated = r
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(Uuid::parse_str(generated).is_ok());
    // Invalid: 400.
    let r = app
        .client
        .get(app.url("/api/orders"))
        .header("X-Correlation-Id", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (order, _) = app.order().await;
    let product = app.product("SKU-9", 100).await;
    let (s, added) = app
        .post(
            &format!("/api/orders/{order}/items"),
            json!({ "product_id": product, "quantity": 1 }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Read-your-writes below must wait for this position, not just the start of the log.
    let last_position = added["position"].as_i64().expect("position");
    let before = app.event_total().await;
    let items = format!("/api/orders/{order}/items");
    let big = "x".repeat(10 * 1024 * 1024);
    type Case = (
        &'static str,
        String,
        Option<&'static str>,
        String,
        StatusCode,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            items.clone(),
            Some("application/json"),
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            "".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            json!({ "product_id": product, "quantity": "two" }).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            json!({ "product_id": product, "quantity": 1, "extra": 1 }).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            json!({ "product_id": "not-a-uuid", "quantity": 1 }).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            json!({ "product_id": product, "quantity": -3 }).to_string(),
            StatusCode::BAD_REQUEST,
            "quantity_out_of_range",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            json!({ "product_id": product, "quantity": 0 }).to_string(),
            StatusCode::BAD_REQUEST,
            "quantity_out_of_range",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            json!({ "product_id": product, "quantity": 99_999_999_999i64 }).to_string(),
            StatusCode::BAD_REQUEST,
            "quantity_out_of_range",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            "{\"product_id\":\"00000000-0000-0000-0000-000000000000\",\"quantity\":1e400}".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            json!({ "product_id": product, "quantity": 1 }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "product_already_in_order",
        ),
        (
            "POST",
            items.clone(),
            Some("text/plain"),
            json!({ "product_id": product, "quantity": 1 }).to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            items.clone(),
            None,
            json!({ "product_id": product, "quantity": 1 }).to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            items.clone(),
            Some("application/json"),
            format!("\"{big}\""),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "POST",
            "/api/orders/not-a-uuid/confirm".into(),
            None,
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        (
            "PUT",
            format!("/api/orders/{order}/items/xyz"),
            Some("application/json"),
            json!({ "quantity": 1 }).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        (
            "POST",
            format!("/api/orders/{}/confirm", Uuid::now_v7()),
            None,
            String::new(),
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            "POST",
            format!("/api/orders/{order}/ship"),
            Some("application/json"),
            json!({ "carrier": "DHL", "tracking_number": "T1" }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "order_not_confirmed",
        ),
        (
            "POST",
            format!("/api/orders/{order}/deliver"),
            None,
            String::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "order_not_shipped",
        ),
        (
            "DELETE",
            format!("/api/orders/{order}/items/{}", Uuid::now_v7()),
            None,
            String::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "product_not_in_order",
        ),
        (
            "POST",
            format!("/api/orders/{order}/cancel"),
            Some("application/json"),
            json!({ "reason": "" }).to_string(),
            StatusCode::BAD_REQUEST,
            "value_empty",
        ),
        (
            "POST",
            "/api/customers".into(),
            Some("application/json"),
            json!({ "name": "A", "email": "not-an-email" }).to_string(),
            StatusCode::BAD_REQUEST,
            "email_invalid",
        ),
        (
            "POST",
            "/api/customers".into(),
            Some("application/json"),
            json!({ "name": 5, "email": "a@b.co" }).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "POST",
            "/api/products".into(),
            Some("application/json"),
            json!({ "sku": "bad sku!", "name": "N", "price_cents": 1 }).to_string(),
            StatusCode::BAD_REQUEST,
            "sku_invalid",
        ),
        (
            "POST",
            "/api/products".into(),
            Some("application/json"),
            json!({ "sku": "OK-1", "name": "N", "price_cents": -1 }).to_string(),
            StatusCode::BAD_REQUEST,
            "money_negative",
        ),
        (
            "POST",
            "/api/orders".into(),
            Some("application/json"),
            json!({ "customer_id": Uuid::now_v7() }).to_string(),
            StatusCode::NOT_FOUND,
            "customer_not_found",
        ),
        (
            "POST",
            "/api/orders".into(),
            Some("application/json"),
            "[]".into(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "GET",
            "/api/orders?status=bogus".into(),
            None,
            String::new(),
            StatusCode::BAD_REQUEST,
            "order_status_unknown",
        ),
        (
            "GET",
            "/api/orders?limit=-1".into(),
            None,
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "GET",
            "/api/orders?cursor=garbage".into(),
            None,
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "GET",
            format!("/api/orders/{}", Uuid::now_v7()),
            None,
            String::new(),
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            "GET",
            "/api/streams/order-nope/events".into(),
            None,
            String::new(),
            StatusCode::NOT_FOUND,
            "stream_not_found",
        ),
        (
            "GET",
            "/api/correlations/123/events".into(),
            None,
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        (
            "GET",
            "/api/nothing-here".into(),
            None,
            String::new(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "PATCH",
            format!("/api/orders/{order}"),
            None,
            String::new(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (method, path, content_type, body, expected, code) in cases {
        let mut req = app.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(&path),
        );
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if !body.is_empty() || content_type.is_some() {
            req = req.body(body.clone());
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        assert_eq!(
            status,
            expected,
            "{method} {path} {}: {json}",
            body.chars().take(80).collect::<String>()
        );
        assert_eq!(error_code(&json), code, "{method} {path}");
    }
    assert_eq!(app.event_total().await, before, "nothing written");
    let (_, detail) = app
        .get_json(&format!("/api/orders/{order}?min_position={last_position}"))
        .await;
    assert_eq!(detail["data"]["status"], "draft");
    assert_eq!(detail["data"]["item_count"], 1, "{detail}");
    app.stop().await;
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let app = TestApp::spawn().await;
    for path in ["/health", "/api/orders", "/api/nothing"] {
        let r = app.get(path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("'wasm-unsafe-eval'")
                && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert_eq!(
            h.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..])
        );
        assert!(h.get("referrer-policy").is_some());
    }
    app.stop().await;
}

#[tokio::test]
async fn cross_site_state_changes_are_refused() {
    let app = TestApp::spawn().await;
    let body = json!({ "name": "Eve", "email": "eve@example.com" });
    let r = app
        .client
        .post(app.url("/api/customers"))
        .header("Origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(&r.json().await.unwrap()), "cross_site_request");
    let r = app
        .client
        .post(app.url("/api/customers"))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A Leptos server function path is covered too.
    let r = app
        .client
        .post(app.url("/api/some_server_fn"))
        .header("Origin", "http://evil.example")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_total().await, 0);
    // Same origin is fine.
    let r = app
        .client
        .post(app.url("/api/customers"))
        .header("Origin", format!("http://{}", app.host))
        .header("Sec-Fetch-Site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.url("/api/customers"))
        .header("content-type", "application/json")
        .body(vec![b' '; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&r.json().await.unwrap()), "payload_too_large");
    // Without Content-Length (chunked).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 8 * 1024])).collect();
    let stream = futures::stream::iter(chunks);
    let r = app
        .client
        .post(app.url("/api/customers"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

#[tokio::test]
async fn rate_limit_is_429_and_forwarded_for_cannot_dodge_it() {
    let mut config = common::test_config();
    config.rate_limit_per_sec = 1;
    config.rate_limit_burst = 3;
    let app = TestApp::spawn_with(config).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let r = app
            .client
            .get(app.url("/health"))
            .header("X-Forwarded-For", format!("10.0.0.{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().get("retry-after").is_some());
            assert_eq!(error_code(&r.json().await.unwrap()), "rate_limited");
        }
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = server::api::routes();
    assert!(routes.len() >= 35);
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let text = doc.to_string();
    // Every `$ref` names a schema of the document.
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap_or_default();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
    for (spec, _) in routes {
        let op = &doc["paths"][spec.path][spec.method.to_lowercase()];
        assert!(op.is_object(), "{} {} missing", spec.method, spec.path);
        assert_eq!(op["operationId"], spec.id);
        let success = &op["responses"][spec.status.to_string()];
        assert!(success.is_object(), "{} success status", spec.id);
        if matches!(spec.reply, server::api::Reply::Json(_)) {
            assert!(
                success["content"]["application/json"]["schema"].is_object(),
                "{} response schema",
                spec.id
            );
        }
        if spec.request.is_some() {
            assert!(
                op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                "{} request schema",
                spec.id
            );
        }
        // Every error answer is declared with the error shape; 429 carries Retry-After.
        assert_eq!(
            op["responses"]["429"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert!(op["responses"]["429"]["headers"]["Retry-After"].is_object());
        // The route is served: not the JSON 404 of unknown API paths.
        if spec.method == "GET" && !spec.path.contains('{') && spec.path != "/ws" {
            let r = app.get(spec.path).await;
            assert_ne!(r.status(), StatusCode::NOT_FOUND, "{}", spec.path);
        }
    }
    // Integers are integers, with their bounds (what a property-based tester found missing).
    let list = &doc["paths"]["/api/orders"]["get"]["parameters"];
    let limit = list
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "limit"))
        .expect("limit parameter");
    assert_eq!(limit["schema"]["type"], "integer");
    let if_match = doc["paths"]["/api/orders/{id}/confirm"]["post"]["parameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "If-Match"))
        .expect("If-Match");
    assert_eq!(if_match["schema"]["minimum"], 0);
    assert_eq!(
        schemas["CancelOrder"]["properties"]["reason"]["maxLength"],
        500
    );
    app.stop().await;
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/docs/").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap_or_default();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no CDN: {html}");
    let r = app.get("/api/docs/swagger-initializer.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("/api/openapi.json")
    );
    let r = app.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_json("/health").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.get_json("/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.customer("Metric Person").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for name in [
        "eventide_http_requests_total{method=\"POST\",route=\"/api/customers\",status=\"201\"}",
        "eventide_commands_total{command=\"register_customer\",outcome=\"ok\"} ",
        "eventide_command_duration_seconds_bucket",
        "eventide_projection_checkpoint{projection=\"orders\"}",
        "eventide_projection_lag",
        "eventide_relay_state{state=\"disabled\"} 1",
        "eventide_websocket_connections 0",
        // Help texts, and histograms rendered as histograms (buckets set), not summaries.
        "# HELP eventide_http_requests_total HTTP requests by method, route and status.",
        "# TYPE eventide_command_duration_seconds histogram",
        "# TYPE eventide_http_request_duration_seconds histogram",
        "# TYPE eventide_append_batch_events histogram",
        "eventide_append_batch_events_bucket{le=\"1\"}",
        "eventide_projection_batch_duration_seconds_bucket{projection=",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    // The recorder is the process's (every server of this test binary counts into it): at
    // least this test's registration.
    let registered = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("eventide_commands_total{command=\"register_customer\",outcome=\"ok\"} ")
        })
        .and_then(|n| n.parse::<u64>().ok());
    assert!(registered.is_some_and(|n| n >= 1), "{text}");
    let (status, relay) = app.get_json("/api/relay").await;
    assert_eq!(
        (status, relay["state"].as_str()),
        (StatusCode::OK, Some("disabled"))
    );
    let (status, projections) = app.get_json("/api/projections").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        projections.as_array().map(Vec::len),
        Some(domain::live::ProjectionName::ALL.len())
    );
    app.stop().await;
}
