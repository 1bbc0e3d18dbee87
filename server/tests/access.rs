//! Identity and authorization over REST, on both backends:
//!
//! * the access matrix: every documented route (from `/api/openapi.json`, whose `x-eventide-role`
//!   says who may call it) x anonymous, customer, staff, admin. A caller below the route's role
//!   gets 401 (anonymous) or 403 (signed in) and nothing is written; a caller at or above it
//!   is not refused;
//! * a forged `X-User-Id` has no effect, and events record the authenticated principal;
//! * a customer can neither read, nor act on, nor subscribe to another customer's order;
//! * a signed-out session and a revoked token are refused on every instance (two servers on one
//!   PostgreSQL database);
//! * sign-in throttling answers 429 with `Retry-After`.

mod common;

use common::{ADMIN_TOKEN, TestApp, test_config};
use eventstore::testing::TestDb;
use futures::{SinkExt as _, StreamExt as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// A signed-in caller: a session cookie or a bearer token.
#[derive(Clone)]
enum Cred {
    Anonymous,
    Cookie(String),
    Bearer(String),
}

struct Caller {
    cred: Cred,
    customer_id: Option<Uuid>,
    username: String,
}

async fn call(
    app: &TestApp,
    cred: &Cred,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = app.anonymous.request(method, app.url(path));
    match cred {
        Cred::Anonymous => {}
        Cred::Cookie(c) => req = req.header("cookie", c),
        Cred::Bearer(t) => req = req.bearer_auth(t),
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn session_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("eventide_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

async fn sign_up(app: &TestApp, username: &str) -> Caller {
    let res = app
        .anonymous
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "username": username, "password": "correct horse battery", "name": format!("Customer {username}"), "email": format!("{username}@example.com") }))
        .send()
        .await
        .expect("signup");
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = session_cookie(&res);
    let me: Value = res.json().await.expect("json");
    assert_eq!(me["role"], "customer");
    Caller {
        cred: Cred::Cookie(cookie),
        customer_id: me["customer_id"].as_str().and_then(|s| s.parse().ok()),
        username: username.to_owned(),
    }
}

async fn sign_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.anonymous
        .post(app.url("/api/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("login")
}

async fn staff(app: &TestApp, username: &str) -> Caller {
    let (status, body) = app
        .post("/api/users", json!({ "username": username, "password": "staff password 1", "display_name": "Sam Staff", "role": "staff" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let res = sign_in(app, username, "staff password 1").await;
    assert_eq!(res.status(), StatusCode::OK);
    Caller {
        cred: Cred::Cookie(session_cookie(&res)),
        customer_id: None,
        username: username.to_owned(),
    }
}

fn rank(role: &str) -> u8 {
    match role {
        "anonymous" => 0,
        "customer" => 1,
        "staff" => 2,
        "admin" => 3,
        other => panic!("unknown role {other}"),
    }
}

/// A valid body for `schema` (so that a refusal is the access policy's, not the parser's).
fn body_for(doc: &Value, schema_ref: &str, caller: &Caller, n: usize) -> Value {
    let name = schema_ref.trim_start_matches("#/components/schemas/");
    let schema = &doc["components"]["schemas"][name];
    let mut body = serde_json::Map::new();
    for field in schema["required"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap_or_default();
        let prop = &schema["properties"][field];
        let value = match (field, prop["format"].as_str(), prop["type"].as_str()) {
            ("customer_id", _, _) => json!(caller.customer_id.unwrap_or_else(Uuid::now_v7)),
            ("role", _, _) => json!("staff"),
            ("username", _, _) => json!(format!(
                "m{n}x{}",
                &Uuid::now_v7().simple().to_string()[24..]
            )),
            ("sku", _, _) => json!(format!("SKU-{n}")),
            ("carrier", _, _) => json!("DHL"),
            ("tracking_number", _, _) => json!("TRACK123"),
            (_, Some("email"), _) => json!("someone@example.com"),
            (_, Some("uuid"), _) => json!(Uuid::now_v7()),
            (_, Some("password"), _) => json!("long enough password"),
            (_, _, Some("integer")) => json!(1),
            _ => json!("Some text"),
        };
        body.insert(field.to_owned(), value);
    }
    Value::Object(body)
}

fn path_for(path: &str, caller: &Caller) -> String {
    let fresh = Uuid::now_v7();
    let own_customer = caller.customer_id.unwrap_or(fresh);
    let mut out = path.to_owned();
    if path.starts_with("/api/customers/{id}") {
        out = out.replace("{id}", &own_customer.to_string());
    }
    if path.starts_with("/api/streams/{id}") {
        out = out.replace("{id}", &format!("order-{fresh}"));
    }
    out.replace("{id}", &fresh.to_string())
        .replace("{product_id}", &Uuid::now_v7().to_string())
        .replace("{name}", "orders")
        .replace("{username}", "nobody")
}

async fn access_matrix(app: TestApp) {
    let doc = app.get_json("/api/openapi.json").await.1;
    let callers = [
        (
            "anonymous",
            Caller {
                cred: Cred::Anonymous,
                customer_id: None,
                username: "anonymous".into(),
            },
        ),
        ("customer", sign_up(&app, "carla").await),
        ("staff", staff(&app, "sam").await),
        (
            "admin",
            Caller {
                cred: Cred::Bearer(ADMIN_TOKEN.into()),
                customer_id: None,
                username: "admin".into(),
            },
        ),
    ];
    let mut cells = 0;
    let mut refused = 0;
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        // Identity entry points have their own tests; /ws needs an upgrade; /metrics is text.
        if path.starts_with("/api/auth/") || path.starts_with("/api/admin/") || path == "/ws" {
            continue;
        }
        for (method, op) in item.as_object().expect("operation") {
            let required = op["x-eventide-role"].as_str().expect("x-eventide-role");
            for (role, caller) in &callers {
                n += 1;
                let concrete = path_for(path, caller);
                let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .map(|r| body_for(&doc, r, caller, n));
                let before = app.event_total().await;
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
                let (status, answer) =
                    call(&app, &caller.cred, method.clone(), &concrete, body.as_ref()).await;
                cells += 1;
                let cell =
                    format!("{method} {concrete} as {role} (needs {required}): {status} {answer}");
                if rank(role) < rank(required) {
                    refused += 1;
                    let expected = if *role == "anonymous" {
                        StatusCode::UNAUTHORIZED
                    } else {
                        StatusCode::FORBIDDEN
                    };
                    assert_eq!(status, expected, "{cell}");
                    assert_eq!(
                        app.event_total().await,
                        before,
                        "a refused call wrote: {cell}"
                    );
                } else {
                    assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "refused but allowed by its role: {cell}"
                    );
                    assert!(status.as_u16() < 500, "{cell}");
                }
            }
        }
    }
    assert!(
        cells > 150 && refused > 60,
        "{cells} cells, {refused} refused"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap_or_default();
    assert!(
        metrics.contains("eventide_access_refused_total{"),
        "refusals are counted"
    );
    app.stop().await;
}

#[tokio::test]
async fn access_matrix_sqlite() {
    access_matrix(TestApp::spawn().await).await;
}

#[tokio::test]
async fn access_matrix_postgres() {
    let db = TestDb::postgres().await.expect("postgres");
    let mut config = test_config();
    config.database_url = Some(db.db().url().to_owned());
    access_matrix(TestApp::spawn_with(config).await).await;
    db.cleanup().await;
}

#[tokio::test]
async fn the_audit_trail_records_the_principal_and_ignores_x_user_id() {
    let app = TestApp::spawn().await;
    let product = app.product("AUD-1", 500).await;
    let carla = sign_up(&app, "carla").await;
    // Anonymous with a forged user: still anonymous.
    let forged = app
        .anonymous
        .post(app.url("/api/orders"))
        .header("x-user-id", "admin")
        .json(&json!({ "customer_id": carla.customer_id }))
        .send()
        .await
        .expect("request");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    // Signed in with a forged user: the events name the session's user.
    let Cred::Cookie(cookie) = &carla.cred else {
        unreachable!()
    };
    let res = app
        .anonymous
        .post(app.url("/api/orders"))
        .header("cookie", cookie)
        .header("x-user-id", "admin")
        .json(&json!({ "customer_id": carla.customer_id, "lines": [{ "product_id": product, "quantity": 2 }] }))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.expect("json");
    let (status, events) = call(
        &app,
        &carla.cred,
        Method::GET,
        &format!(
            "/api/streams/order-{}/events",
            order["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    for e in events.as_array().expect("events") {
        assert_eq!(e["user_id"], "carla", "{e}");
        assert_eq!(e["user_role"], "customer", "{e}");
        assert_eq!(e["user_name"], "Customer carla", "{e}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_customer_cannot_touch_another_customers_order() {
    let app = TestApp::spawn().await;
    let product = app.product("OWN-1", 700).await;
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bob").await;
    let (status, placed) = call(&app, &alice.cred, Method::POST, "/api/orders", Some(&json!({ "customer_id": alice.customer_id, "lines": [{ "product_id": product, "quantity": 1 }] }))).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let id = placed["id"].as_str().expect("id").to_owned();
    let before = app.event_total().await;
    // Bob may not place for Alice, read, edit, cancel or read the history of her order.
    for (method, path, body) in [
        (
            Method::POST,
            "/api/orders".to_owned(),
            Some(json!({ "customer_id": alice.customer_id })),
        ),
        (Method::GET, format!("/api/orders/{id}"), None),
        (
            Method::POST,
            format!("/api/orders/{id}/items"),
            Some(json!({ "product_id": product, "quantity": 1 })),
        ),
        (
            Method::POST,
            format!("/api/orders/{id}/cancel"),
            Some(json!({ "reason": "mine now" })),
        ),
        (Method::POST, format!("/api/orders/{id}/confirm"), None),
        (Method::GET, format!("/api/streams/order-{id}/events"), None),
        (
            Method::GET,
            format!("/api/customers/{}", alice.customer_id.unwrap()),
            None,
        ),
    ] {
        let (status, body) = call(&app, &bob.cred, method.clone(), &path, body.as_ref()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
    assert_eq!(app.event_total().await, before, "nothing written");
    // Bob's order list never shows Alice's order, whatever filter he asks for.
    let (_, list) = call(
        &app,
        &bob.cred,
        Method::GET,
        &format!(
            "/api/orders?customer={}&min_position={before}",
            alice.customer_id.unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(
        list["data"]["orders"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
    let (_, mine) = call(
        &app,
        &alice.cred,
        Method::GET,
        &format!("/api/orders?min_position={before}"),
        None,
    )
    .await;
    assert_eq!(
        mine["data"]["orders"].as_array().map(Vec::len),
        Some(1),
        "{mine}"
    );

    // Websockets: Bob may not subscribe to her order; his orders topic gets none of her changes.
    let Cred::Cookie(bob_cookie) = &bob.cred else {
        unreachable!()
    };
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut req = format!("ws://{}/ws", app.host)
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("cookie", bob_cookie.parse().expect("cookie"));
    req.headers_mut().insert(
        "origin",
        format!("http://{}", app.host).parse().expect("origin"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");
    let subscribe = json!({ "type": "subscribe", "topics": [{ "topic": "order", "id": id }, { "topic": "orders" }, { "topic": "dashboard" }] });
    ws.send(Message::Text(subscribe.to_string().into()))
        .await
        .expect("send");
    let mut errors = 0;
    let mut subscribed = Value::Null;
    while subscribed.is_null() {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("ws closed")
        };
        let m: Value = serde_json::from_str(text.as_str()).expect("json");
        match m["type"].as_str() {
            Some("error") => errors += 1,
            Some("subscribed") => subscribed = m,
            _ => {}
        }
    }
    assert_eq!(errors, 2, "the order and dashboard topics are refused");
    assert_eq!(subscribed["topics"], json!([{ "topic": "orders" }]));
    // Alice changes her order: nothing reaches Bob; then Bob places his own: that reaches him.
    let (status, _) = call(
        &app,
        &alice.cred,
        Method::POST,
        &format!("/api/orders/{id}/confirm"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, his) = call(
        &app,
        &bob.cred,
        Method::POST,
        "/api/orders",
        Some(&json!({ "customer_id": bob.customer_id })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let his_stream = format!("order-{}", his["id"].as_str().expect("id"));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("his change arrives");
        let Some(Ok(Message::Text(text))) = next else {
            continue;
        };
        let m: Value = serde_json::from_str(text.as_str()).expect("json");
        if m["type"] == "changed" {
            let streams = m["change"]["streams"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                !streams
                    .iter()
                    .any(|s| s.as_str() == Some(&format!("order-{id}"))),
                "Alice's order leaked: {m}"
            );
            if streams
                .iter()
                .any(|s| s.as_str() == Some(his_stream.as_str()))
            {
                break;
            }
        }
    }
    app.stop().await;
}

/// The admins' user list is the `users` read model: every account with its role and state,
/// fresh after a change (read-your-writes by position), paged by username; staff and customers
/// are refused it.
#[tokio::test]
async fn admins_list_accounts_from_the_users_read_model() {
    let app = TestApp::spawn().await;
    let sam = staff(&app, "sam").await;
    let dora = sign_up(&app, "dora").await;
    let res = app
        .send(
            Method::PUT,
            "/api/users/sam/role",
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let reply: Value = res.json().await.expect("role change reply");
    let position = reply["position"].as_i64().expect("position");
    let (status, body) = app
        .post(
            "/api/users/dora/disable",
            json!({ "reason": "asked to leave" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let position = position.max(body["position"].as_i64().expect("position"));

    let (status, page) = app
        .get_json(&format!("/api/users?min_position={position}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["stale"], false, "{page}");
    let users = page["data"]["users"].as_array().expect("users");
    let row = |name: &str| {
        users
            .iter()
            .find(|u| u["username"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {page}"))
    };
    assert_eq!(row("admin")["role"], "admin");
    assert_eq!(row("sam")["role"], "admin", "the role change shows");
    assert_eq!(row("sam")["disabled"], false);
    assert_eq!(row("dora")["role"], "customer");
    assert_eq!(row("dora")["disabled"], true, "the disabling shows");
    assert_eq!(
        row("dora")["customer_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok()),
        dora.customer_id
    );
    let names: Vec<&str> = users
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["admin", "dora", "sam"], "by username");
    assert!(
        users
            .iter()
            .all(|u| u.get("password").is_none() && u.get("hash").is_none())
    );

    // Paged: one row a page, every account once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/users?limit=1&cursor={c}"),
            None => "/api/users?limit=1".to_owned(),
        };
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let rows = page["data"]["users"].as_array().expect("users");
        assert!(rows.len() <= 1);
        seen.extend(
            rows.iter()
                .filter_map(|u| u["username"].as_str().map(str::to_owned)),
        );
        match page["data"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["admin", "dora", "sam"]);
    let (status, body) = app.get_json("/api/users?cursor=zz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Only admins (sam is an admin now; a fresh staff account is not).
    let stan = staff(&app, "stan").await;
    let (status, _) = call(&app, &stan.cred, Method::GET, "/api/users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, &sam.cred, Method::GET, "/api/users", None).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

/// The customer and product lists are paged over REST: a bounded page, a cursor to the next,
/// every row once; a cursor of another list is refused with 400.
#[tokio::test]
async fn customer_and_product_lists_are_paged_over_rest() {
    let app = TestApp::spawn().await;
    for name in ["Eve Adams", "Ada Byron", "Zed Cole", "Bob Dunn", "Cy Eads"] {
        app.customer(name).await;
    }
    let mut last = 0;
    for n in 0..4 {
        let (status, body) = app
            .post(
                "/api/products",
                json!({ "sku": format!("PAGE-{n}"), "name": "Paged", "price_cents": 100 }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        last = body["position"].as_i64().expect("position");
    }
    for (list, key, expected) in [
        (
            "customers",
            "name",
            vec!["Ada Byron", "Bob Dunn", "Cy Eads", "Eve Adams", "Zed Cole"],
        ),
        (
            "products",
            "sku",
            vec!["PAGE-0", "PAGE-1", "PAGE-2", "PAGE-3"],
        ),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut other_cursor = None;
        loop {
            let mut path = format!("/api/{list}?limit=2&min_position={last}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = app.get_json(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let rows = page["data"][list].as_array().expect("rows");
            assert!(rows.len() <= 2, "{page}");
            seen.extend(
                rows.iter()
                    .filter_map(|r| r[key].as_str().map(str::to_owned)),
            );
            match page["data"]["next_cursor"].as_str() {
                Some(next) => {
                    cursor = Some(next.to_owned());
                    other_cursor = Some(next.to_owned());
                }
                None => break,
            }
        }
        assert_eq!(seen, expected, "{list}");
        let other = if list == "customers" {
            "products"
        } else {
            "customers"
        };
        let cursor = other_cursor.expect("more than one page");
        let (status, body) = app.get_json(&format!("/api/{other}?cursor={cursor}")).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{other} with a {list} cursor: {body}"
        );
    }
    app.stop().await;
}

/// Sign-ups racing for one username, or for one email, on both backends: exactly one wins, and
/// the losers wrote nothing (the account and the customer are one atomic append: no customer
/// without an account, no account without a customer).
async fn racing_sign_ups_leave_no_orphans(app: TestApp) {
    async fn streams(app: &TestApp, kind: &str) -> usize {
        let (status, body) = app
            .get_json(&format!("/api/streams?type={kind}&limit=500"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["streams"].as_array().map_or(0, Vec::len)
    }
    let accounts = streams(&app, "account").await;
    let customers = streams(&app, "customer").await;
    for (round, same) in ["username", "email"].into_iter().enumerate() {
        let mut tasks = Vec::new();
        for n in 0..16 {
            let (client, url) = (app.anonymous.clone(), app.url("/api/auth/signup"));
            let username = if same == "username" {
                format!("twin{round}")
            } else {
                format!("racer{round}x{n}")
            };
            let email = if same == "email" {
                format!("same{round}@example.com")
            } else {
                format!("u{round}x{n}@example.com")
            };
            tasks.push(tokio::spawn(async move {
                let res = client
                    .post(url)
                    .json(&json!({ "username": username, "password": "correct horse battery", "name": "Racer", "email": email }))
                    .send()
                    .await
                    .expect("signup");
                let status = res.status();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
            }));
        }
        let mut won = 0;
        for t in tasks {
            let (status, code) = t.await.expect("task");
            match status {
                StatusCode::CREATED => won += 1,
                StatusCode::CONFLICT => {
                    let want = if same == "username" {
                        "username_taken"
                    } else {
                        "email_taken"
                    };
                    assert_eq!(code, want, "racing for one {same}");
                }
                other => panic!("racing for one {same}: {other} {code}"),
            }
        }
        assert_eq!(won, 1, "one sign-up wins the {same}");
        assert_eq!(
            streams(&app, "account").await,
            accounts + round + 1,
            "{same}"
        );
        assert_eq!(
            streams(&app, "customer").await,
            customers + round + 1,
            "{same}: no orphan customer"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn racing_sign_ups_leave_no_orphans_sqlite() {
    racing_sign_ups_leave_no_orphans(TestApp::spawn().await).await;
}

#[tokio::test]
async fn racing_sign_ups_leave_no_orphans_postgres() {
    let db = TestDb::postgres().await.expect("postgres");
    let mut config = test_config();
    config.database_url = Some(db.db().url().to_owned());
    racing_sign_ups_leave_no_orphans(TestApp::spawn_with(config).await).await;
    db.cleanup().await;
}

#[tokio::test]
async fn sign_in_is_throttled_per_account() {
    let app = TestApp::spawn().await;
    sign_up(&app, "dora").await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(sign_in(&app, "dora", "wrong password!").await);
    }
    let last = statuses.pop().expect("a response");
    assert_eq!(statuses[0].status(), StatusCode::UNAUTHORIZED);
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(last.headers().get("retry-after").is_some());
    // Even the right password is refused while throttled.
    assert_eq!(
        sign_in(&app, "dora", "correct horse battery")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

#[tokio::test]
async fn sign_out_and_revocation_hold_on_every_instance() {
    let db = TestDb::postgres().await.expect("postgres");
    let spawn = || {
        let mut config = test_config();
        config.database_url = Some(db.db().url().to_owned());
        TestApp::spawn_with(config)
    };
    let one = spawn().await;
    let two = spawn().await;
    let erin = sign_up(&one, "erin").await;
    // The session works on both instances...
    for app in [&one, &two] {
        let (status, me) = call(app, &erin.cred, Method::GET, "/api/auth/me", None).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["username"], erin.username);
    }
    // ...and so does a token made on the first.
    let (status, token) = call(
        &one,
        &erin.cred,
        Method::POST,
        "/api/tokens",
        Some(&json!({ "name": "ci" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let bearer = Cred::Bearer(token["token"].as_str().expect("secret").to_owned());
    let (status, _) = call(&two, &bearer, Method::GET, "/api/auth/me", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = call(&two, &erin.cred, Method::GET, "/api/tokens", None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(
        !listed
            .to_string()
            .contains(token["token"].as_str().unwrap()),
        "never the secret"
    );
    // Revoked on the second instance: refused on the first.
    let (status, _) = call(
        &two,
        &erin.cred,
        Method::DELETE,
        &format!("/api/tokens/{}", token["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&one, &bearer, Method::GET, "/api/auth/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signed out on the first instance: refused on the second.
    let (status, _) = call(&one, &erin.cred, Method::POST, "/api/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&two, &erin.cred, Method::GET, "/api/auth/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    one.stop().await;
    two.stop().await;
    db.cleanup().await;
}
