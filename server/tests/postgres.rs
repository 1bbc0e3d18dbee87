//! The main command/query flow and the version conflict on PostgreSQL (fresh database from the
//! event store's test harness; `EVENTIDE_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432/postgres).

mod common;

use common::{TestApp, error_code};
use eventstore::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn postgres_command_query_flow_and_conflict() {
    let test_db = TestDb::postgres()
        .await
        .expect("PostgreSQL for tests (set EVENTIDE_TEST_PG_URL)");
    let mut config = common::test_config();
    config.database_url = Some(test_db.db().url().to_owned());
    let app = TestApp::spawn_with(config).await;

    let customer = app.customer("Pg Person").await;
    let product = app.product("PG-1", 1250).await;
    let (status, reply) = app
        .post("/api/orders", json!({ "customer_id": customer }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let order = common::id(&reply);
    let (status, reply) = app
        .post(
            &format!("/api/orders/{order}/items"),
            json!({ "product_id": product, "quantity": 4 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let position = reply["position"].as_i64().unwrap();
    let (status, detail) = app
        .get_json(&format!("/api/orders/{order}?min_position={position}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["data"]["total_cents"], 5000);
    assert_eq!(detail["data"]["version"], 2);

    let r = app
        .client
        .post(app.url(&format!("/api/orders/{order}/confirm")))
        .header("If-Match", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "version_conflict");
    assert_eq!(body["error"]["details"]["current_version"], 2);
    let r = app
        .client
        .post(app.url(&format!("/api/orders/{order}/confirm")))
        .header("If-Match", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let (status, list) = app
        .get_json(&format!(
            "/api/orders?status=confirmed&min_position={}",
            position + 1
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"]["orders"].as_array().map(Vec::len), Some(1));
    app.stop().await;
    test_db.cleanup().await;
}
