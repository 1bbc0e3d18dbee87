//! Issue 16 item 6 (writer part) over HTTP, on both backends: the event store's group-commit
//! writer task panics (a real panic, injected through the store's `testing` hook). The command
//! whose append the writer died holding answers a JSON 503 with `Retry-After`, `/ready` answers
//! 503 naming the dead writer while it is down, the writer is restarted and commands succeed
//! again without restarting the server; `/metrics` counts the restart.

mod common;

use std::time::{Duration, Instant};

use common::{ADMIN_TOKEN, test_config};
use eventstore::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::app::Application;

struct Running {
    base: String,
    client: reqwest::Client,
    store: eventstore::SqlEventStore,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn spawn(database_url: Option<String>) -> Running {
    let mut config = test_config();
    config.database_url = database_url;
    let app = Application::build(config).await.expect("server builds");
    let base = format!("http://{}", app.local_addr);
    let store = app.state().store.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let mut admin = reqwest::header::HeaderMap::new();
    admin.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}")).expect("header"),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .default_headers(admin)
        .build()
        .expect("client");
    Running {
        base,
        client,
        store,
        stop,
        handle,
    }
}

/// Registers a customer: status, `Retry-After`, body.
async fn register(app: &Running, n: u32) -> (StatusCode, Option<String>, Value) {
    let r = app
        .client
        .post(format!("{}/api/customers", app.base))
        .json(&json!({ "name": format!("Customer {n}"), "email": format!("c{n}@example.com") }))
        .send()
        .await
        .expect("request");
    let status = r.status();
    let retry_after = r
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, retry_after, r.json().await.unwrap_or(Value::Null))
}

async fn ready(app: &Running) -> (StatusCode, Value) {
    let r = app
        .client
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn writer_panic_over_http(postgres: bool) {
    let test_db = if postgres {
        Some(TestDb::postgres().await.expect("PostgreSQL for tests"))
    } else {
        None
    };
    let app = spawn(test_db.as_ref().map(|t| t.db().url().to_owned())).await;
    let (status, _, body) = register(&app, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(ready(&app).await.0, StatusCode::OK);

    // Restarted after a second: long enough to look at /ready while no writer runs.
    app.store.set_writer_restart_pause(Duration::from_secs(1));
    app.store.inject_writer_panics(1);
    let (status, retry_after, body) = register(&app, 2).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "outcome_unknown", "{body}");
    assert!(retry_after.is_some(), "503 without Retry-After: {body}");
    let (status, body) = ready(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["problems"].as_array().is_some_and(|p| p
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.contains("writer")))),
        "{body}"
    );

    // Restarted without restarting the server: ready again, commands commit.
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready(&app).await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _, body) = register(&app, 3).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.store.writer_status().restarts, 1);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.contains("eventide_store_writer_restarts_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("eventide_store_writer_up 1"), "{metrics}");

    let _ = app.stop.send(());
    let _ = app.handle.await;
    if let Some(db) = test_db {
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_panic_answers_503_and_ready_says_so_sqlite() {
    writer_panic_over_http(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_panic_answers_503_and_ready_says_so_postgres() {
    writer_panic_over_http(true).await;
}
