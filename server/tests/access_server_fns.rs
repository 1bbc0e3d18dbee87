//! The access policy over the Leptos server functions (the UI's way in), on both backends: the
//! same decisions as REST, because both call the same application layer. A table of server
//! functions x anonymous, customer, staff, admin: a refused cell answers 401 (anonymous) or 403
//! and writes nothing; an allowed one is neither refused nor a 5xx.

mod common;

use common::{ADMIN_TOKEN, TestApp, test_config};
use eventstore::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn server_fn_path(name: &str) -> String {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .find(|path| path.starts_with(&format!("/fn/{name}")))
        .unwrap_or_else(|| panic!("server function {name} is registered"))
}

/// Calls a form-encoded server function with `cred` (a cookie header value or a bearer token).
async fn call(app: &TestApp, cred: &Cred, name: &str, form: &[(&str, String)]) -> StatusCode {
    let mut request = app
        .anonymous
        .post(app.url(&server_fn_path(name)))
        .header("accept", "application/json")
        .form(form);
    match cred {
        Cred::Anonymous => {}
        Cred::Cookie(c) => request = request.header("cookie", c),
        Cred::Bearer(t) => request = request.bearer_auth(t),
    }
    request.send().await.expect("request").status()
}

/// A server function, its form, and whether anonymous, customer, staff and admin may call it.
type Row = (&'static str, Vec<(&'static str, String)>, [bool; 4]);

enum Cred {
    Anonymous,
    Cookie(String),
    Bearer(String),
}

async fn session_of(res: reqwest::Response) -> (String, Value) {
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("eventide_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned();
    (cookie, res.json().await.unwrap_or(Value::Null))
}

async fn matrix(app: TestApp) {
    // A customer (signed up over REST) with an order, another customer's order, and staff.
    let product = app.product("SF-1", 250).await;
    let res = app
        .anonymous
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "username": "cora", "password": "a long password", "name": "Cora", "email": "cora@example.com" }))
        .send()
        .await
        .expect("signup");
    let (cora, me) = session_of(res).await;
    let cora_customer = me["customer_id"].as_str().expect("customer").to_owned();
    let (_, other_order) = app.order().await;
    let other_order = other_order["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .post("/api/users", json!({ "username": "stan", "password": "a long password", "display_name": "Stan", "role": "staff" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let res = app
        .anonymous
        .post(app.url("/api/auth/login"))
        .json(&json!({ "username": "stan", "password": "a long password" }))
        .send()
        .await
        .expect("login");
    let (stan, _) = session_of(res).await;

    let callers = [
        ("anonymous", Cred::Anonymous),
        ("customer", Cred::Cookie(cora)),
        ("staff", Cred::Cookie(stan)),
        ("admin", Cred::Bearer(ADMIN_TOKEN.to_owned())),
    ];
    let other_stream = format!("order-{other_order}");
    // (server function, form, allowed for anonymous, customer, staff, admin)
    const NO: bool = false;
    const OK: bool = true;
    let table: Vec<Row> = vec![
        ("get_dashboard", vec![], [NO, NO, OK, OK]),
        ("get_activity", vec![], [NO, NO, OK, OK]),
        ("list_customers", vec![], [NO, OK, OK, OK]),
        ("list_products", vec![], [OK, OK, OK, OK]),
        ("list_orders", vec![], [NO, OK, OK, OK]),
        (
            "get_order",
            vec![("id", other_order.clone())],
            [NO, NO, OK, OK],
        ),
        (
            "stream_events",
            vec![("stream_id", other_stream.clone())],
            [NO, NO, OK, OK],
        ),
        ("list_streams", vec![], [NO, NO, OK, OK]),
        ("projection_statuses", vec![], [NO, NO, NO, OK]),
        ("get_relay", vec![], [NO, NO, NO, OK]),
        ("chain_status", vec![], [NO, NO, NO, OK]),
        ("start_chain_verify", vec![], [NO, NO, NO, OK]),
        (
            "retry_projection",
            vec![("name", "orders".into())],
            [NO, NO, NO, OK],
        ),
        (
            "create_product",
            vec![
                ("sku", "SF-NEW".into()),
                ("name", "New".into()),
                ("price", "1.00".into()),
            ],
            [NO, NO, OK, OK],
        ),
        (
            "register_customer",
            vec![
                ("name", "Walk In".into()),
                ("email", "walk@example.com".into()),
            ],
            [NO, NO, OK, OK],
        ),
        ("my_tokens", vec![], [NO, OK, OK, OK]),
        (
            "change_role",
            vec![("username", "stan".into()), ("role", "admin".into())],
            [NO, NO, NO, OK],
        ),
    ];
    let _ = (&product, &cora_customer);
    for (name, form, allowed) in &table {
        for ((role, cred), allowed) in callers.iter().zip(allowed) {
            let before = app.event_total().await;
            let got = call(&app, cred, name, form).await;
            if *allowed {
                assert!(
                    got != StatusCode::UNAUTHORIZED
                        && got != StatusCode::FORBIDDEN
                        && got.as_u16() < 500,
                    "{name} as {role}: {got}"
                );
            } else {
                let refused = if *role == "anonymous" {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(got, refused, "{name} as {role}");
                assert_eq!(app.event_total().await, before, "{name} as {role} wrote");
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn server_functions_follow_the_access_policy_sqlite() {
    matrix(TestApp::spawn().await).await;
}

#[tokio::test]
async fn server_functions_follow_the_access_policy_postgres() {
    let db = TestDb::postgres().await.expect("postgres");
    let mut config = test_config();
    config.database_url = Some(db.db().url().to_owned());
    matrix(TestApp::spawn_with(config).await).await;
    db.cleanup().await;
}
