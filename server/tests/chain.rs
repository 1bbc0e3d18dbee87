//! The log integrity routes over a real server, on SQLite and PostgreSQL: admins only (401
//! without a credential, 403 for a customer), the chain head, a verify job that runs to intact
//! with progress, a second start while one runs, the anchor download; then a raw `UPDATE` of
//! one event row in the real database, and the next verify names that row.

mod common;

use std::time::Duration;

use common::{TestApp, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn wait_verified(app: &TestApp) -> Value {
    for _ in 0..200 {
        let (status, body) = app.get_json("/api/admin/chain/verify").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["state"] != "running" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the verify did not finish");
}

async fn start(app: &TestApp) -> Value {
    let (status, body) = app.post("/api/admin/chain/verify", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body
}

async fn chain_routes(app: TestApp, db_url: String) {
    let customer = app.customer("Chain Person").await;
    let product = app.product("CH-1", 990).await;
    let (status, _) = app
        .post("/api/orders", json!({ "customer_id": customer }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let _ = product;

    for path in [
        "/api/admin/chain",
        "/api/admin/chain/verify",
        "/api/admin/chain/anchor",
    ] {
        let r = app
            .anonymous
            .get(app.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let signup = app
        .anonymous
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "username": "chainy", "password": "correct horse battery", "name": "Chain Y", "email": "chainy@example.com" }))
        .send()
        .await
        .expect("signup");
    assert_eq!(signup.status(), StatusCode::CREATED);
    let cookie = signup
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("eventide_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned();
    let r = app
        .anonymous
        .get(app.url("/api/admin/chain"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(&r.json().await.expect("json")), "forbidden");

    let (status, chain) = app.get_json("/api/admin/chain").await;
    assert_eq!(status, StatusCode::OK, "{chain}");
    let head = chain["head_position"].as_i64().expect("head");
    assert!(head >= 3, "{chain}");
    assert_eq!(chain["head_hash"].as_str().map(str::len), Some(64));
    assert_eq!(chain["verify"]["state"], "idle");

    let started = start(&app).await;
    assert!(
        matches!(started["state"].as_str(), Some("running" | "intact")),
        "{started}"
    );
    // A second start while one runs is refused; once it finished, it starts again.
    let (status, body) = app.post("/api/admin/chain/verify", json!({})).await;
    assert!(
        status == StatusCode::ACCEPTED
            || (status == StatusCode::CONFLICT && error_code(&body) == "verify_in_progress"),
        "{status} {body}"
    );
    let done = wait_verified(&app).await;
    assert_eq!(done["state"], "intact", "{done}");
    assert!(done["checked"].as_i64().expect("checked") >= head);
    assert_eq!(done["problem"], Value::Null);

    let r = app.get("/api/admin/chain/anchor").await;
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"eventide-anchor-"),
        "{disposition}"
    );
    let anchor: Value = r.json().await.expect("anchor json");
    assert!(anchor["position"].as_i64().expect("position") >= head);
    assert_eq!(anchor["algorithm"], "eventide-chain-v1/sha256");

    // The real fault: a raw UPDATE of event row 2 in the server's own database.
    let db = eventstore::Db::connect(&db_url).await.expect("connect");
    let statement = format!(
        "update events set data = '{{\"tampered\": true}}'{} where position = 2",
        db.backend().json_param()
    );
    sqlx::query(&statement)
        .execute(db.pool())
        .await
        .expect("tamper");
    db.close().await;
    start(&app).await;
    let done = wait_verified(&app).await;
    assert_eq!(done["state"], "broken", "{done}");
    assert_eq!(done["problem"]["position"], 2, "{done}");
    assert_eq!(done["problem"]["kind"], "changed", "{done}");
    let (_, chain) = app.get_json("/api/admin/chain").await;
    assert_eq!(chain["verify"]["state"], "broken");
    app.stop().await;
}

#[tokio::test]
async fn chain_routes_sqlite() {
    let config = common::test_config();
    let url = format!("sqlite://{}", config.data_dir.join("eventide.db").display());
    let app = TestApp::spawn_with(config).await;
    chain_routes(app, url).await;
}

#[tokio::test]
async fn chain_routes_postgres() {
    let test_db = eventstore::testing::TestDb::postgres()
        .await
        .expect("PostgreSQL for tests (set EVENTIDE_TEST_PG_URL)");
    let mut config = common::test_config();
    config.database_url = Some(test_db.db().url().to_owned());
    let url = test_db.db().url().to_owned();
    let app = TestApp::spawn_with(config).await;
    chain_routes(app, url).await;
    test_db.cleanup().await;
}
