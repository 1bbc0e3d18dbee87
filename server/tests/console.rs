//! The operator console over HTTP, against a real server: the event browser's search and
//! paging, the causation tree of a correlation three levels deep (`X-Causation-Id`), the
//! statistics, the disabled relay's head, dead letters of a real poison event (written behind
//! the server's back) with payloads and who resolved them, and stalled projections: one held by
//! the test hook on SQLite, and one blocked by a row lock held in a second session on
//! PostgreSQL. Each shows in `/api/projections`, `/ready` and `/metrics`.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, error_code};
use eventstore::testing::{TestDb, raw_append};
use eventstore::{Backend, Db, EventMetadata};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `path` until `ok` holds for its JSON, or fails with the last answer.
async fn until(app: &TestApp, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = app.get_json(path).await;
        if status == StatusCode::OK && ok(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {status} {body} after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn projection<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|p| p["name"] == name))
        .unwrap_or(&Value::Null)
}

/// Sends a command with a correlation id and, optionally, what caused it.
async fn post_caused(
    app: &TestApp,
    path: &str,
    body: Value,
    correlation: Uuid,
    cause: Option<Uuid>,
) -> Value {
    let mut request = app
        .client
        .post(app.url(path))
        .header("x-correlation-id", correlation.to_string())
        .json(&body);
    if let Some(cause) = cause {
        request = request.header("x-causation-id", cause.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
    body
}

/// The event ids of a correlation, oldest first, by stream type.
async fn correlated(app: &TestApp, correlation: Uuid, stream_type: &str) -> Vec<Uuid> {
    let (status, events) = app
        .get_json(&format!("/api/correlations/{correlation}/events"))
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["stream_type"] == stream_type)
        .filter_map(|e| e["event_id"].as_str().and_then(|s| Uuid::parse_str(s).ok()))
        .collect()
}

#[tokio::test]
async fn a_correlation_tree_nests_what_each_event_caused_three_levels_deep() {
    let app = TestApp::spawn().await;
    let correlation = Uuid::now_v7();
    let customer = post_caused(
        &app,
        "/api/customers",
        json!({ "name": "Tree Root", "email": "tree.root@example.com" }),
        correlation,
        None,
    )
    .await;
    let registered = correlated(&app, correlation, "customer").await;
    assert_eq!(registered.len(), 1);
    post_caused(
        &app,
        "/api/products",
        json!({ "sku": "TREE-1", "name": "Tree", "price_cents": 100, "initial_stock": 5 }),
        correlation,
        Some(registered[0]),
    )
    .await;
    let product_events = correlated(&app, correlation, "product").await;
    let cause = *product_events.last().expect("product events");
    post_caused(
        &app,
        "/api/orders",
        json!({ "customer_id": customer["id"] }),
        correlation,
        Some(cause),
    )
    .await;

    let (status, tree) = app
        .get_json(&format!("/api/correlations/{correlation}/tree"))
        .await;
    assert_eq!(status, StatusCode::OK, "{tree}");
    assert_eq!(tree["depth"], 3, "{tree}");
    let roots = tree["commands"].as_array().expect("roots");
    assert_eq!(roots.len(), 1, "one root command: {tree}");
    assert_eq!(roots[0]["command"], "register_customer", "{tree}");
    assert_eq!(roots[0]["user_id"], "admin");
    let second = &roots[0]["events"][0]["caused"][0];
    assert_eq!(second["command"], "create_product", "{tree}");
    assert_eq!(second["caused_by"], registered[0].to_string());
    let under_product: Vec<&Value> = second["events"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["caused"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(under_product.len(), 1, "{tree}");
    assert_eq!(under_product[0]["command"], "place_order");
    assert_eq!(
        under_product[0]["events"][0]["event"]["event_type"],
        "OrderPlaced"
    );

    // A cause that is not a UUID is refused, nothing written.
    let before = app.event_total().await;
    let r = app
        .client
        .post(app.url("/api/customers"))
        .header("x-causation-id", "yesterday")
        .json(&json!({ "name": "No", "email": "no@example.com" }))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("json");
    assert_eq!(error_code(&body), "invalid_causation_id");
    assert_eq!(app.event_total().await, before);
    let (status, body) = app
        .get_json(&format!("/api/correlations/{}/tree", Uuid::now_v7()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn the_event_browser_searches_and_pages_the_whole_log() {
    let app = TestApp::spawn().await;
    let first = app.customer("Browse One").await;
    let second = app.customer("Browse Two").await;
    let product = app.product("BROWSE-1", 250).await;
    for customer in [first, second] {
        let (status, body) = app
            .post("/api/orders", json!({ "customer_id": customer }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let order = common::id(&body);
        let (status, body) = app
            .post(
                &format!("/api/orders/{order}/items"),
                json!({ "product_id": product, "quantity": 1 }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let (status, page) = app.get_json("/api/events?type=OrderPlaced").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    assert!(events[0]["position"].as_i64() > events[1]["position"].as_i64());
    assert!(page["next_after"].is_null());

    // The short id the lists show finds the stream.
    let short = domain::ids::short_id(first);
    let (status, page) = app.get_json(&format!("/api/events?stream={short}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let streams: Vec<&str> = page["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["stream_id"].as_str())
        .collect();
    assert!(!streams.is_empty());
    assert!(streams.iter().all(|s| *s == format!("customer-{first}")));

    // Pages of one, oldest first, cover the orders' events once each.
    let mut seen = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let path = match after {
            Some(a) => format!("/api/events?stream_type=order&order=oldest&limit=1&after={a}"),
            None => "/api/events?stream_type=order&order=oldest&limit=1".to_owned(),
        };
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["position"].as_i64()),
        );
        match page["next_after"].as_i64() {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");

    // A correlation's short id, as the event log shows it, finds its events.
    let (_, one) = app.get_json("/api/events?type=OrderPlaced&limit=1").await;
    let correlation = one["events"][0]["correlation_id"]
        .as_str()
        .expect("correlation")
        .to_owned();
    let (status, page) = app
        .get_json(&format!("/api/events?correlation={}", &correlation[28..]))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let found = page["events"].as_array().expect("events");
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|e| e["correlation_id"] == correlation.as_str())
    );

    let (status, page) = app.get_json("/api/events?user=admin&type=ItemAdded").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["events"].as_array().map(Vec::len), Some(2));

    for bad in [
        "/api/events?order=sideways",
        "/api/events?from=yesterday",
        "/api/events?correlation=42",
        "/api/events?limit=lots",
        "/api/events?after=-1",
        "/api/events?from=2026-12-02T10:00:00Z&to=2026-12-01T10:00:00Z",
        "/api/events?colour=red",
    ] {
        let (status, body) = app.get_json(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        error_code(&body);
    }
    let r = app
        .anonymous
        .get(app.url("/api/events"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn statistics_count_the_log_and_the_disabled_relay_shows_its_head() {
    let app = TestApp::spawn().await;
    let customer = app.customer("Stats One").await;
    let (status, _) = app
        .post("/api/orders", json!({ "customer_id": customer }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let head = app.event_total().await + 1; // and the bootstrap admin's account
    let stats = until(&app, "/api/stats/events", "statistics", |s| {
        s["position"].as_i64() == Some(head)
    })
    .await;
    assert_eq!(stats["total"], head, "{stats}");
    let by_type = stats["by_event_type"].as_array().expect("by type");
    let placed = by_type.iter().find(|c| c["name"] == "OrderPlaced");
    assert_eq!(placed.map(|c| &c["count"]), Some(&json!(1)), "{stats}");
    let by_stream = stats["by_stream_type"].as_array().expect("by stream");
    assert!(
        by_stream
            .iter()
            .any(|c| c["name"] == "customer" && c["count"] == 1)
    );
    let minutes = stats["per_minute"].as_array().expect("per minute");
    assert_eq!(minutes.len(), 60);
    let last_hour: i64 = minutes.iter().filter_map(|m| m["count"].as_i64()).sum();
    assert_eq!(last_hour, head);

    let (status, relay) = app.get_json("/api/relay").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(relay["state"], "disabled");
    assert_eq!(
        relay["head"], head,
        "the disabled relay shows the log's head: {relay}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_poison_event_becomes_a_dead_letter_with_its_payload_and_who_resolved_it() {
    let app = TestApp::spawn().await;
    app.customer("Before Poison").await;
    let db = Db::connect(&format!(
        "sqlite://{}",
        app.data_dir.join("eventide.db").display()
    ))
    .await
    .expect("database");
    let poison = Uuid::new_v4();
    let mut conn = db.pool().acquire().await.expect("connection");
    let position = raw_append(
        &mut conn,
        Backend::Sqlite,
        &format!("order-{poison}"),
        "order",
        Uuid::now_v7(),
        "OrderPlaced",
        1,
        &json!({ "garbage": true }),
        &EventMetadata::default(),
    )
    .await
    .expect("raw append");
    drop(conn);
    db.close().await;
    app.customer("After Poison").await;

    let page = until(&app, "/api/dead-letters", "dead letters", |page| {
        page["dead_letters"]
            .as_array()
            .is_some_and(|l| l.iter().any(|d| d["resolution"].is_null()))
    })
    .await;
    let open: Vec<&Value> = page["dead_letters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["resolution"].is_null())
        .collect();
    let letter = open[0];
    assert_eq!(letter["position"], position);
    assert_eq!(letter["event_type"], "OrderPlaced");
    assert_eq!(letter["stream_id"], format!("order-{poison}"));
    assert_eq!(letter["data"], json!({ "garbage": true }));
    assert!(letter["attempts"].as_i64() >= Some(1));
    assert!(letter["error"].as_str().is_some_and(|e| !e.is_empty()));
    let name = letter["projection"]
        .as_str()
        .expect("projection")
        .to_owned();

    let (status, body) = app
        .post(
            &format!("/api/projections/{name}/skip"),
            json!({ "reason": "garbage written by a broken import" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, page) = app
        .get_json(&format!("/api/dead-letters?projection={name}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let resolved = &page["dead_letters"][0];
    assert_eq!(resolved["resolution"], "skipped", "{page}");
    assert_eq!(resolved["resolved_by"], "admin");
    assert_eq!(resolved["reason"], "garbage written by a broken import");
    assert!(resolved["resolved_at"].is_string());

    // Another projection that faulted on it: retried (it faults again: the event is still bad).
    let others: Vec<String> = open
        .iter()
        .filter_map(|d| d["projection"].as_str())
        .filter(|p| *p != name)
        .map(str::to_owned)
        .collect();
    if let Some(other) = others.first() {
        let (status, body) = app
            .post(&format!("/api/projections/{other}/retry"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = until(
            &app,
            &format!("/api/dead-letters?projection={other}"),
            "retried dead letter",
            |p| p["dead_letters"][1]["resolution"] == "retried",
        )
        .await;
        assert_eq!(page["dead_letters"][1]["resolved_by"], "admin", "{page}");
    }
    let (status, body) = app.get_json("/api/dead-letters?projection=nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.stop().await;
}

/// Waits until `name` is stalled, and checks `/ready` and `/metrics` say so.
async fn assert_stalled(app: &TestApp, name: &str) {
    let list = until(app, "/api/projections", "a stalled projection", |l| {
        projection(l, name)["state"] == "stalled"
    })
    .await;
    let held = projection(&list, name);
    assert!(held["lag"].as_i64() > Some(0), "{held}");
    assert!(held["lag_seconds"].as_f64() >= Some(1.0), "{held}");
    assert!(
        !held["lag_trend"].as_array().is_none_or(Vec::is_empty),
        "{held}"
    );
    for other in list.as_array().into_iter().flatten() {
        if other["name"] != name {
            assert_ne!(other["state"], "stalled", "only {name} is held: {other}");
        }
    }
    let r = app.get("/ready").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = r.json().await.expect("json");
    assert!(
        ready["problems"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p
                .as_str()
                .is_some_and(|p| p.starts_with(&format!("projection {name} is stalled"))))),
        "{ready}"
    );
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    assert!(
        metrics.contains(&format!(
            "eventide_projection_stalled{{projection=\"{name}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "eventide_projection_lag_seconds{{projection=\"{name}\"}}"
    )));
}

#[tokio::test]
async fn a_projection_held_by_the_test_hook_is_reported_stalled() {
    let mut config = common::test_config();
    config.test_hold_projection = Some("activity".to_owned());
    config.stall_after_secs = 1;
    let app = TestApp::spawn_with(config).await;
    app.customer("Held Up").await;
    assert_stalled(&app, "activity").await;
    app.stop().await;
}

#[tokio::test]
async fn a_row_lock_held_in_a_second_session_stalls_a_projection_on_postgres() {
    let test_db = TestDb::postgres()
        .await
        .expect("PostgreSQL for tests (set EVENTIDE_TEST_PG_URL)");
    let mut config = common::test_config();
    config.database_url = Some(test_db.db().url().to_owned());
    config.stall_after_secs = 1;
    let app = TestApp::spawn_with(config).await;
    app.customer("Before The Lock").await;
    until(&app, "/api/projections", "caught up", |l| {
        l.as_array()
            .is_some_and(|l| l.iter().all(|p| p["lag"] == 0 && p["state"] == "running"))
    })
    .await;
    // A second session holds the activity projection's checkpoint row: its next batch waits
    // for the lock (and times out, and retries), while every other projection goes on.
    let mut blocker = test_db.db().pool().begin().await.expect("begin");
    sqlx::query(
        "select position from checkpoints where name like 'projection:activity:%' for update",
    )
    .fetch_all(&mut *blocker)
    .await
    .expect("lock the checkpoint row");
    app.customer("Behind The Lock").await;
    assert_stalled(&app, "activity").await;
    blocker.rollback().await.expect("release");
    until(&app, "/api/projections", "recovered after the lock", |l| {
        projection(l, "activity")["state"] == "running" && projection(l, "activity")["lag"] == 0
    })
    .await;
    let r = app.get("/ready").await;
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
    test_db.cleanup().await;
}

#[tokio::test]
async fn an_empty_dashboard_says_how_to_get_demo_data() {
    let app = TestApp::spawn().await;
    let page = app.get("/").await.text().await.expect("page");
    assert!(page.contains("No orders yet"), "{page}");
    assert!(page.contains("server seed --orders 200"));
    app.customer("Not An Order").await;
    let (status, body) = app
        .post(
            "/api/orders",
            json!({ "customer_id": app.customer("Orders").await }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let position = body["position"].as_i64().expect("the reply's position");
    until(
        &app,
        &format!("/api/dashboard?min_position={position}"),
        "dashboard",
        |d| d["stale"] == false,
    )
    .await;
    let page = app.get("/").await.text().await.expect("page");
    assert!(
        !page.contains("No orders yet"),
        "the hint is gone once there are orders"
    );
    app.stop().await;
}
