//! Crypto-shredding end to end, on SQLite and on PostgreSQL with the relay publishing to a real
//! JetStream stream of its own: a customer signs up, orders, is renamed; their name and address
//! never reach the log, the snapshots or the broker in plaintext (sealed); the views show them
//! opened; an admin erases the customer (a customer may not); from then on every view shows
//! them erased, a rebuild of every projection reproduces no plaintext, and a dump of every
//! table and of the stream contains neither the name nor the address.

mod common;

use std::time::Duration;

use common::{ADMIN_TOKEN, TestApp, error_code};
use eventstore::testing::TestDb;
use futures::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

fn nats_url() -> String {
    std::env::var("EVENTIDE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// Letters only (a name may not hold digits here only to keep it obviously a name).
fn tag() -> String {
    Uuid::now_v7()
        .simple()
        .to_string()
        .chars()
        .rev()
        .take(8)
        .map(|c| match c.to_digit(16) {
            Some(d) => char::from(b'a' + u8::try_from(d).unwrap_or(0)),
            None => 'x',
        })
        .collect()
}

struct Person {
    name: String,
    renamed: String,
    email: String,
}

impl Person {
    fn new() -> Self {
        let t = tag();
        Self {
            name: format!("Wenceslas Quibble{t}"),
            renamed: format!("Wenceslas Quorrington{t}"),
            email: format!("wq.{t}@example.org"),
        }
    }

    /// The plaintexts that must not survive the erasure (case-insensitive).
    fn secrets(&self) -> [String; 4] {
        [
            self.name.to_lowercase(),
            self.renamed.to_lowercase(),
            self.email.to_lowercase(),
            // The distinctive part alone, wherever it might be copied.
            self.name.to_lowercase().replace("wenceslas ", ""),
        ]
    }

    fn assert_absent(&self, what: &str, text: &str) {
        let text = text.to_lowercase();
        for secret in self.secrets() {
            assert!(
                !text.contains(&secret),
                "{what} still contains {secret:?} after the erasure"
            );
        }
    }
}

async fn call(
    app: &TestApp,
    cookie: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = match cookie {
        Some(c) => app
            .anonymous
            .request(method, app.url(path))
            .header("cookie", c),
        None => app.client.request(method, app.url(path)),
    };
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every projection and the relay at the head, no rebuild running.
async fn settle(app: &TestApp) {
    wait_until("projections and relay at the head", || async {
        let (_, projections) = app.get_json("/api/projections").await;
        let (_, relay) = app.get_json("/api/relay").await;
        let head = relay["head"].as_i64().unwrap_or(-1);
        projections.as_array().is_some_and(|all| {
            !all.is_empty()
                && all
                    .iter()
                    .all(|p| p["rebuild"].is_null() && p["checkpoint"].as_i64() == Some(head))
        }) && relay["checkpoint"].as_i64() == Some(head)
    })
    .await;
}

/// Every row of every table of the SQLite file, as text.
async fn dump_sqlite(data_dir: &std::path::Path) -> String {
    use sqlx::Row as _;
    let url = format!(
        "sqlite://{}?mode=ro",
        data_dir.join("eventide.db").display()
    );
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("open the SQLite file");
    let tables: Vec<String> = sqlx::query_scalar(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let mut dump = String::new();
    for table in tables {
        let columns: Vec<String> =
            sqlx::query(&format!("select name from pragma_table_info('{table}')"))
                .fetch_all(&pool)
                .await
                .expect("columns")
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
        let row_text = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<String> = sqlx::query_scalar(&format!("select {row_text} from \"{table}\""))
            .fetch_all(&pool)
            .await
            .expect("rows");
        dump.push_str(&format!("-- {table}\n"));
        for row in rows {
            dump.push_str(&row);
            dump.push('\n');
        }
    }
    pool.close().await;
    dump
}

/// The whole database as text: `pg_dump` of PostgreSQL at `url`, else the app's SQLite file.
async fn dump_database(app: &TestApp, url: Option<&str>) -> String {
    match url {
        Some(url) => dump_postgres(url),
        None => dump_sqlite(&app.data_dir).await,
    }
}

/// The rows of `table` in a dump of either kind.
fn table_section<'a>(dump: &'a str, table: &str) -> &'a str {
    let (start, end) = match dump.find(&format!("-- {table}\n")) {
        Some(i) => (i, "\n-- "),
        None => match dump.find(&format!("COPY public.{table} (")) {
            Some(i) => (i, "\n\\.\n"),
            None => panic!("no table {table} in the dump"),
        },
    };
    let rest = &dump[start + 3..];
    &dump[start..start + 3 + rest.find(end).unwrap_or(rest.len())]
}

/// The wrapped data key of `customer`, as stored.
async fn wrapped_key(data_dir: &std::path::Path, customer: Uuid) -> String {
    let url = format!(
        "sqlite://{}?mode=ro",
        data_dir.join("eventide.db").display()
    );
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("open the SQLite file");
    let key: String = sqlx::query_scalar("select wrapped_key from data_keys where subject = ?")
        .bind(format!("customer:{customer}"))
        .fetch_one(&pool)
        .await
        .expect("the customer's key");
    pool.close().await;
    key
}

/// `pg_dump --data-only` of the test database (the URL without the driver's options).
fn dump_postgres(url: &str) -> String {
    let url = url.split('?').next().unwrap_or(url);
    let out = std::process::Command::new("pg_dump")
        .arg("--data-only")
        .arg("--dbname")
        .arg(url)
        .output()
        .expect("pg_dump runs (postgresql-client)");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every message of `stream` (headers and payload) as text, and how many.
async fn dump_stream(stream: &str) -> (String, usize) {
    let client = async_nats::connect(nats_url()).await.expect("NATS");
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(stream).await.expect("the relay's stream");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let total = usize::try_from(stream.cached_info().state.messages).unwrap_or(0);
    let mut messages = consumer.messages().await.expect("messages");
    let mut dump = String::new();
    let mut n = 0;
    while n < total {
        let Ok(Some(Ok(message))) = tokio::time::timeout(WAIT, messages.next()).await else {
            panic!("read {n} of {total} messages");
        };
        if let Some(headers) = &message.headers {
            for (name, values) in headers.iter() {
                for value in values {
                    dump.push_str(&format!("{name}: {value}\n"));
                }
            }
        }
        dump.push_str(&String::from_utf8_lossy(&message.payload));
        dump.push('\n');
        n += 1;
    }
    (dump, n)
}

async fn erasure(database_url: Option<String>) {
    let person = Person::new();
    let t = tag();
    let stream = format!("PD_{}", t.to_uppercase());
    let mut config = common::test_config();
    config.database_url = database_url.clone();
    config.nats_url = Some(nats_url());
    config.nats_stream = stream.clone();
    config.nats_subject_prefix = format!("pd{t}.events");
    let app = TestApp::spawn_with(config).await;

    // A customer signs up (account and customer), orders, and staff renames them.
    let res = app
        .anonymous
        .post(app.url("/api/auth/signup"))
        .json(&json!({ "username": format!("pd_{t}"), "password": "correct horse battery", "name": person.name, "email": person.email }))
        .send()
        .await
        .expect("signup");
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("eventide_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned();
    let me: Value = res.json().await.expect("me");
    let customer: Uuid = me["customer_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("customer id");
    let product = app.product(&format!("PD-{t}"), 700).await;
    let (status, order) = call(
        &app,
        Some(&cookie),
        reqwest::Method::POST,
        "/api/orders",
        Some(
            json!({ "customer_id": customer, "lines": [{ "product_id": product, "quantity": 2 }] }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order = common::id(&order);
    // Enough changes for a snapshot of the order (every 50 events), which holds the customer's
    // name opened.
    for i in 0..50 {
        let (status, body) = call(
            &app,
            Some(&cookie),
            reqwest::Method::PUT,
            &format!("/api/orders/{order}/items/{product}"),
            Some(json!({ "quantity": 3 + i % 2 })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .post(
            &format!("/api/customers/{customer}/rename"),
            json!({ "name": person.renamed }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    settle(&app).await;

    // Before: the views show the data opened; the log and the broker hold it sealed only.
    let (_, view) = app.get_json(&format!("/api/customers/{customer}")).await;
    assert_eq!(view["data"]["name"], person.renamed.as_str());
    assert_eq!(view["data"]["email"], person.email.as_str());
    let (_, timeline) = app
        .get_json(&format!("/api/streams/customer-{customer}/events"))
        .await;
    assert_eq!(timeline[0]["data"]["name"], person.name.as_str());
    let (_, detail) = app.get_json(&format!("/api/orders/{order}")).await;
    assert_eq!(detail["data"]["customer_name"], person.renamed.as_str());
    let (_, order_events) = app
        .get_json(&format!("/api/streams/order-{order}/events"))
        .await;
    assert_eq!(
        order_events[0]["data"]["customer_name"],
        person.name.as_str()
    );
    assert_eq!(order_events[0]["user_name"], person.name.as_str());
    let (stream_dump, published) = dump_stream(&stream).await;
    assert!(published >= 4, "the relay published {published} messages");
    assert!(stream_dump.contains("$sealed"));
    person.assert_absent(
        "the broker's stream (before the erasure, sealed)",
        &stream_dump,
    );
    let dump = dump_database(&app, database_url.as_deref()).await;
    assert!(
        dump.to_lowercase().contains(&person.renamed.to_lowercase()),
        "the dump reads the read models (a dump that misses them proves nothing)"
    );
    assert!(
        table_section(&dump, "snapshots")
            .to_lowercase()
            .contains(&person.name.to_lowercase()),
        "the order's snapshot holds the name opened (the erasure must drop it)"
    );
    let log = table_section(&dump, "events");
    assert!(log.contains("$sealed") && log.contains(&customer.to_string()));
    person.assert_absent("the events table (before the erasure, sealed)", log);
    person.assert_absent(
        "the idempotency rows (digests only)",
        table_section(&dump, "idempotency_keys"),
    );

    // The customer's wrapped data key, to look for in the SQLite files afterwards.
    let wrapped_key = match &database_url {
        Some(_) => None,
        None => Some(wrapped_key(&app.data_dir, customer).await),
    };

    // Only admins erase; a reason is required.
    let erase = format!("/api/customers/{customer}/erase");
    let (status, _) = call(
        &app,
        Some(&cookie),
        reqwest::Method::POST,
        &erase,
        Some(json!({ "reason": "mine" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.post(&erase, json!({ "reason": "" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, reply) = app
        .post(&erase, json!({ "reason": "GDPR art. 17 request #42" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, again) = app.post(&erase, json!({ "reason": "twice" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&again), "customer_erased");
    settle(&app).await;

    // After: every view shows the fields erased; the erasure is in the audit trail.
    let (_, view) = app.get_json(&format!("/api/customers/{customer}")).await;
    assert_eq!(view["data"]["name"], "[erased]");
    assert_eq!(view["data"]["email"], "[erased]");
    let (_, timeline) = app
        .get_json(&format!("/api/streams/customer-{customer}/events"))
        .await;
    assert_eq!(timeline[0]["data"]["name"], "[erased]");
    assert_eq!(timeline[0]["data"]["email"], "[erased]");
    let last = timeline
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["event_type"], "CustomerErased");
    assert_eq!(last["data"]["reason"], "GDPR art. 17 request #42");
    assert_eq!(last["user_id"], "admin");
    let (_, detail) = app.get_json(&format!("/api/orders/{order}")).await;
    assert_eq!(detail["data"]["customer_name"], "[erased]");
    let (_, order_events) = app
        .get_json(&format!("/api/streams/order-{order}/events"))
        .await;
    assert_eq!(order_events[0]["data"]["customer_name"], "[erased]");
    assert_eq!(order_events[0]["user_name"], "[erased]");
    let (_, search) = app
        .get_json(&format!("/api/events?stream=customer-{customer}"))
        .await;
    person.assert_absent("the event browser", &search.to_string());
    let (_, users) = app.get_json("/api/users").await;
    person.assert_absent("the users list", &users.to_string());
    let (_, activity) = app.get_json("/api/activity").await;
    person.assert_absent("the activity feed", &activity.to_string());
    assert!(activity.to_string().contains("Personal data"));

    // Nothing more happens to an erased customer; their address is free again.
    let (status, body) = app
        .post(
            &format!("/api/customers/{customer}/rename"),
            json!({ "name": "Someone Else" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .post("/api/orders", json!({ "customer_id": customer }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "customer_erased");

    // Rebuilding every projection from the log reproduces no plaintext.
    let generation_of = |all: &Value| -> std::collections::HashMap<String, i64> {
        all.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["name"].as_str()?.to_owned(), p["generation"].as_i64()?)))
            .collect()
    };
    let before = generation_of(&app.get_json("/api/projections").await.1);
    assert!(before.len() >= 5, "{before:?}");
    let r = app
        .client
        .post(app.url("/api/projections/rebuild"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("rebuild");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    wait_until("every projection rebuilt", || async {
        let now = generation_of(&app.get_json("/api/projections").await.1);
        before
            .iter()
            .all(|(name, g)| now.get(name).is_some_and(|n| n > g))
    })
    .await;
    settle(&app).await;
    let (_, view) = app.get_json(&format!("/api/customers/{customer}")).await;
    assert_eq!(view["data"]["name"], "[erased]");

    let (stream_dump, _) = dump_stream(&stream).await;
    person.assert_absent("the broker's stream", &stream_dump);
    let dump = dump_database(&app, database_url.as_deref()).await;
    assert!(
        dump.contains(&customer.to_string()),
        "the dump holds the customer's rows"
    );
    person.assert_absent("the database dump", &dump);
    if let Some(wrapped) = wrapped_key {
        // Not only the rows: the bytes of the database files hold the deleted key no more.
        for file in ["eventide.db", "eventide.db-wal"] {
            let bytes = std::fs::read(app.data_dir.join(file)).unwrap_or_default();
            assert!(
                !bytes
                    .windows(wrapped.len())
                    .any(|w| w == wrapped.as_bytes()),
                "{file} still holds the erased data key's bytes"
            );
        }
    }

    // The log was never changed: its hash chain (over the sealed rows) still verifies.
    let (status, body) = app.post("/api/admin/chain/verify", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    wait_until("the chain verified", || async {
        let (_, v) = app.get_json("/api/admin/chain/verify").await;
        assert_ne!(v["state"], "broken", "{v}");
        v["state"] == "intact"
    })
    .await;

    // The freed address can be registered again, by someone new.
    let (status, body) = app
        .post(
            "/api/customers",
            json!({ "name": "New Holder", "email": person.email }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    if let Ok(client) = async_nats::connect(nats_url()).await {
        let _ = async_nats::jetstream::new(client)
            .delete_stream(&stream)
            .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn erasure_on_sqlite_leaves_no_plaintext_anywhere() {
    erasure(None).await;
}

#[tokio::test]
async fn erasure_on_postgres_leaves_no_plaintext_anywhere() {
    let test_db = TestDb::postgres()
        .await
        .expect("PostgreSQL for tests (set EVENTIDE_TEST_PG_URL)");
    erasure(Some(test_db.db().url().to_owned())).await;
    test_db.cleanup().await;
}
