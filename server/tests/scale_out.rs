//! Scale-out (issue 11): several real `server` processes on one fresh PostgreSQL database (and a
//! private NATS server), loopback only.
//!
//! * Two instances: a command sent to A reaches a websocket client of B; read-your-writes on B.
//! * Kill -9 of the instance holding the projection and relay leases: the other takes over
//!   within 10 s; read models equal a rebuild; the relay delivers every event exactly once to
//!   the reference consumer's inbox.
//! * Three instances under load while one is killed and restarted repeatedly: read models equal
//!   a rebuild at the end.
//! * In both kill -9 cases the log's hash chain verifies at the end: each instance's writer
//!   chains to the rows the others committed.
//!
//! PostgreSQL: `EVENTIDE_TEST_PG_URL` (default postgres://postgres@127.0.0.1:5432/postgres).
//! NATS: `/usr/sbin/nats-server` (override with `EVENTIDE_TEST_NATS_SERVER`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eventstore::testing::TestDb;
use futures::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const ADMIN_TOKEN: &str = "scale-out-admin-token-0123456789";
const PROJECTIONS: usize = domain::live::ProjectionName::ALL.len();

/// A port for one instance, kept across its restarts. Not from the kernel (`bind(0)`): a port
/// it hands out is in the ephemeral range, where, while an instance is down between a kill and
/// its restart, another test's `bind(0)` or any outgoing connection can take it, and the
/// restarted instance then fails to listen while requests reach the other process. These come
/// from below the ephemeral range (32768+), one block per test process, each port once.
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    const BLOCK: u16 = 30;
    let block = u16::try_from(std::process::id() % 400).unwrap_or(0);
    let base = 20_000 + block * BLOCK;
    for _ in 0..BLOCK {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % BLOCK;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 127.0.0.1:{base}..{}", base + BLOCK);
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventide_{what}_{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The master key every instance is given (personal data is sealed under keys it wraps).
const MASTER_KEY: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

/// One `server` process.
struct Instance {
    name: String,
    port: u16,
    database_url: String,
    nats_url: Option<String>,
    data_dir: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn spawn(name: &str, database_url: &str, nats_url: Option<&str>) -> Self {
        let mut instance = Self {
            name: name.to_owned(),
            port: free_port(),
            database_url: database_url.to_owned(),
            nats_url: nats_url.map(str::to_owned),
            data_dir: temp_dir(&format!("scale_{name}")),
            child: None,
        };
        instance.start();
        instance
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("server.log"))
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.arg("--addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--database-url")
            .arg(&self.database_url)
            .arg("--rate-limit-per-sec")
            .arg("0")
            .arg("--admin-token")
            .arg(ADMIN_TOKEN)
            .arg("--instance-name")
            .arg(&self.name)
            // One master key for every instance on the database (each has its own data dir).
            .arg("--master-key")
            .arg(MASTER_KEY)
            .env("RUST_LOG", "info")
            .env_remove("EVENTIDE_NATS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log));
        if let Some(url) = &self.nats_url {
            cmd.arg("--nats-url").arg(url);
        }
        self.child = Some(cmd.spawn().expect("server process starts"));
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/health", self.base())).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "instance {} not ready; log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// SIGKILL: no clean-up at all.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        assert!(
                            status.success(),
                            "{} exits cleanly: {status}; log:\n{}",
                            self.name,
                            self.log()
                        );
                        return;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!("{} did not stop on SIGTERM", self.name);
                    }
                }
            }
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A private nats-server with JetStream on a free port (never the shared one on 4222).
struct Nats {
    url: String,
    child: Child,
    dir: PathBuf,
}

impl Nats {
    async fn start() -> Self {
        let port = free_port();
        let dir = temp_dir("nats");
        let binary = std::env::var("EVENTIDE_TEST_NATS_SERVER")
            .unwrap_or_else(|_| "/usr/sbin/nats-server".to_owned());
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts (set EVENTIDE_TEST_NATS_SERVER)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "nats-server listens");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            url: format!("nats://127.0.0.1:{port}"),
            child,
            dir,
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A client acting as the bootstrap admin (every call carries the admin token).
fn client() -> reqwest::Client {
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}")).expect("header"),
    );
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .default_headers(auth)
        .build()
        .expect("client")
}

async fn get_json(client: &reqwest::Client, url: String) -> Option<Value> {
    let r = client.get(url).send().await.ok()?;
    if r.status() != StatusCode::OK {
        return None;
    }
    r.json().await.ok()
}

async fn post_json(client: &reqwest::Client, url: String, body: Value) -> Option<Value> {
    let r = client.post(url).json(&body).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

fn id_of(body: &Value) -> Uuid {
    body["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_else(|| panic!("no id in {body}"))
}

/// One unit of load: a customer, an order with an item, confirmed. Returns false if any step
/// failed (e.g. the instance was just killed).
async fn place_order(client: &reqwest::Client, base: &str, product: Uuid) -> bool {
    let n = Uuid::now_v7().simple().to_string();
    let Some(customer) = post_json(
        client,
        format!("{base}/api/customers"),
        json!({ "name": format!("Load {n}"), "email": format!("load{n}@example.com") }),
    )
    .await
    else {
        return false;
    };
    let Some(order) = post_json(
        client,
        format!("{base}/api/orders"),
        json!({ "customer_id": id_of(&customer) }),
    )
    .await
    else {
        return false;
    };
    let order = id_of(&order);
    if post_json(
        client,
        format!("{base}/api/orders/{order}/items"),
        json!({ "product_id": product, "quantity": 2 }),
    )
    .await
    .is_none()
    {
        return false;
    }
    post_json(
        client,
        format!("{base}/api/orders/{order}/confirm"),
        json!({}),
    )
    .await
    .is_some()
}

/// Sends orders round-robin to `bases` until `stop`; returns how many completed.
fn load(
    bases: Vec<String>,
    product: Uuid,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let client = client();
        let done = AtomicUsize::new(0);
        let mut i = 0_usize;
        while !stop.load(Ordering::Relaxed) {
            let base = &bases[i % bases.len()];
            i += 1;
            if place_order(&client, base, product).await {
                done.fetch_add(1, Ordering::Relaxed);
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        done.into_inner()
    })
}

async fn projections(client: &reqwest::Client, base: &str) -> Vec<Value> {
    get_json(client, format!("{base}/api/projections"))
        .await
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// Every projection reports `instance` as its runner, not on standby.
fn all_run_on(statuses: &[Value], instance: &str) -> bool {
    statuses.len() == PROJECTIONS
        && statuses
            .iter()
            .all(|p| p["instance"] == instance && p["state"] != "standby")
}

/// Waits until every projection (as `base` reports it) has applied the whole log and no rebuild
/// runs; returns the head.
/// The committed head of the log, read from the database itself: the `head` in a status can be
/// a moment old on an instance that learns of commits by notification.
async fn log_head(db: &TestDb) -> i64 {
    sqlx::query_scalar::<_, i64>("select position from log_head where id = 1")
        .fetch_one(db.db().pool())
        .await
        .expect("log head")
}

/// Waits until every projection is idle at `head` (or, without one, at the head it reports).
async fn caught_up_to(client: &reqwest::Client, base: &str, head: Option<i64>) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let statuses = projections(client, base).await;
        let done = statuses.len() == PROJECTIONS
            && statuses.iter().all(|p| {
                p["rebuild"].is_null()
                    && p["fault"].is_null()
                    && p["head"].as_i64() == p["checkpoint"].as_i64()
                    && head.is_none_or(|h| p["checkpoint"].as_i64() == Some(h))
            });
        if done && let Some(head) = statuses[0]["head"].as_i64() {
            return head;
        }
        assert!(
            Instant::now() < deadline,
            "projections catch up: {statuses:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn caught_up(client: &reqwest::Client, base: &str) -> i64 {
    caught_up_to(client, base, None).await
}

/// Every row of a paged list (`/api/{what}`, rows under `data.{what}`), page by page.
async fn all_pages(client: &reqwest::Client, base: &str, what: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/api/{what}?limit=100&cursor={c}"),
            None => format!("{base}/api/{what}?limit=100"),
        };
        let page = get_json(client, url)
            .await
            .unwrap_or_else(|| panic!("{what} page"));
        rows.extend(page["data"][what].as_array().cloned().unwrap_or_default());
        match page["data"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    rows
}

/// Everything the read models answer (the `data` of each list, every page).
async fn read_models(client: &reqwest::Client, base: &str) -> Value {
    let mut out = json!({});
    for what in ["orders", "customers", "products"] {
        out[what] = Value::Array(all_pages(client, base, what).await);
    }
    for what in ["dashboard", "activity"] {
        let body = get_json(client, format!("{base}/api/{what}"))
            .await
            .unwrap_or_else(|| panic!("GET /api/{what}"));
        out[what] = body["data"].clone();
    }
    // The dashboard's orders per minute are counted back from the current minute: a read
    // just after a minute turns shows the same orders one slot earlier. Compare their total.
    if let Some(series) = out["dashboard"]["orders_per_minute"].as_array() {
        let total: i64 = series.iter().filter_map(Value::as_i64).sum();
        out["dashboard"]["orders_per_minute"] = json!({ "total": total });
    }
    out
}

/// Rebuilds every projection from the log (on whichever instance holds the leases) and waits
/// until the rebuilds are swapped in.
async fn rebuild_all(client: &reqwest::Client, base: &str) {
    let before: Vec<i64> = projections(client, base)
        .await
        .iter()
        .map(|p| p["generation"].as_i64().unwrap_or(0))
        .collect();
    let r = client
        .post(format!("{base}/api/projections/rebuild"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .expect("rebuild request");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let statuses = projections(client, base).await;
        let swapped = statuses.len() == before.len()
            && statuses
                .iter()
                .zip(&before)
                .all(|(p, g)| p["generation"].as_i64() > Some(*g) && p["rebuild"].is_null());
        if swapped {
            break;
        }
        assert!(Instant::now() < deadline, "rebuilds finish: {statuses:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    caught_up(client, base).await;
}

/// The read models as they are now, then as a rebuild from the log makes them: must be equal.
async fn assert_equal_to_rebuild(client: &reqwest::Client, base: &str, head: i64) {
    caught_up_to(client, base, Some(head)).await;
    let live = read_models(client, base).await;
    rebuild_all(client, base).await;
    let rebuilt = read_models(client, base).await;
    assert_eq!(
        live, rebuilt,
        "read models after failover equal a rebuild from the log"
    );
}

/// The log's hash chain verifies from position 1 to `head`.
async fn assert_chain_intact(db: &TestDb, head: i64) {
    let report = eventstore::verify(db.db(), eventstore::VerifyRange::default(), None, |_| {})
        .await
        .expect("verify");
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!(report.to, head, "{report:?}");
}

async fn product(client: &reqwest::Client, base: &str) -> Uuid {
    let body = post_json(
        client,
        format!("{base}/api/products"),
        json!({ "sku": "SCALE-1", "name": "Scale widget", "price_cents": 1999, "initial_stock": 1_000_000_000 }),
    )
    .await
    .expect("product created");
    id_of(&body)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} message in time"));
        let Some(Ok(Message::Text(text))) = msg else {
            continue;
        };
        let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
        if value["type"] == kind {
            return value;
        }
    }
}

#[tokio::test]
async fn a_command_on_one_instance_reaches_websockets_and_queries_of_another() {
    let db = TestDb::postgres().await.expect("PostgreSQL for tests");
    let url = db.db().url().to_owned();
    let client = client();
    let mut a = Instance::spawn("alpha", &url, None);
    a.wait_ready(&client).await;
    // Alpha started first: it takes every projection lease before beta exists.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all_run_on(&projections(&client, &a.base()).await, "alpha") {
        assert!(Instant::now() < deadline, "alpha runs the projections");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut b = Instance::spawn("beta", &url, None);
    b.wait_ready(&client).await;

    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://127.0.0.1:{}/ws", b.port)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws to beta");
    ws.send(Message::Text(
        json!({ "type": "subscribe", "topics": [{ "topic": "orders" }], "since": null })
            .to_string()
            .into(),
    ))
    .await
    .expect("subscribe");
    next_of(&mut ws, "subscribed").await;

    let customer = post_json(
        &client,
        format!("{}/api/customers", a.base()),
        json!({ "name": "Cross Instance", "email": "cross@example.com" }),
    )
    .await
    .expect("customer on alpha");
    let reply = post_json(
        &client,
        format!("{}/api/orders", a.base()),
        json!({ "customer_id": id_of(&customer) }),
    )
    .await
    .expect("order on alpha");
    let order = id_of(&reply);
    let position = reply["position"].as_i64().expect("position");
    let stream = json!(format!("order-{order}"));
    let changed = loop {
        let changed = next_of(&mut ws, "changed").await;
        if changed["change"]["streams"]
            .as_array()
            .is_some_and(|s| s.contains(&stream))
        {
            break changed;
        }
    };
    assert_eq!(changed["change"]["projection"], "orders");
    assert!(changed["position"].as_i64() >= Some(position));

    // Read-your-writes on the other instance.
    let detail = get_json(
        &client,
        format!("{}/api/orders/{order}?min_position={position}", b.base()),
    )
    .await
    .expect("order on beta");
    assert_eq!(detail["stale"], false, "{detail}");
    assert_eq!(detail["data"]["order_id"], json!(order));

    // Who runs what, as both instances show it.
    for base in [a.base(), b.base()] {
        let statuses = projections(&client, &base).await;
        assert!(
            statuses.iter().all(|p| p["instance"] == "alpha"),
            "{statuses:#?}"
        );
    }
    let on_beta = projections(&client, &b.base()).await;
    assert!(
        on_beta.iter().all(|p| p["state"] == "standby"),
        "{on_beta:#?}"
    );

    ws.close(None).await.ok();
    b.terminate();
    a.terminate();
    drop((a, b));
    db.cleanup().await;
}

#[tokio::test]
async fn kill9_of_the_lease_holder_fails_over_without_loss_or_duplicates() {
    let db = TestDb::postgres().await.expect("PostgreSQL for tests");
    let url = db.db().url().to_owned();
    let nats = Nats::start().await;
    let client = client();
    let mut a = Instance::spawn("alpha", &url, Some(&nats.url));
    a.wait_ready(&client).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let relay = get_json(&client, format!("{}/api/relay", a.base())).await;
        let relay_here = relay
            .as_ref()
            .is_some_and(|r| r["instance"] == "alpha" && r["state"] == "connected");
        if relay_here && all_run_on(&projections(&client, &a.base()).await, "alpha") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alpha holds every lease: {relay:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = Instance::spawn("beta", &url, Some(&nats.url));
    b.wait_ready(&client).await;
    let product = product(&client, &b.base()).await;

    // Load through beta (which only writes the log) while alpha applies and publishes.
    let stop = Arc::new(AtomicBool::new(false));
    let load_task = load(vec![b.base()], product, stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;

    a.kill9();
    let killed = Instant::now();
    let takeover = loop {
        let relay = get_json(&client, format!("{}/api/relay", b.base())).await;
        let relay_here = relay
            .as_ref()
            .is_some_and(|r| r["instance"] == "beta" && r["state"] == "connected");
        if relay_here && all_run_on(&projections(&client, &b.base()).await, "beta") {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "beta takes over within 10 s; log:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("takeover after kill -9: {} ms", takeover.as_millis());

    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let placed = load_task.await.expect("load task");
    assert!(placed > 0, "load placed orders");

    let head = caught_up_to(&client, &b.base(), Some(log_head(&db).await)).await;
    // The relay reaches the head too.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let relay = get_json(&client, format!("{}/api/relay", b.base())).await;
        if relay
            .as_ref()
            .is_some_and(|r| r["checkpoint"].as_i64() == Some(head))
        {
            break;
        }
        assert!(Instant::now() < deadline, "relay catches up: {relay:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Exactly once at the consumer's inbox: every position 1..=head, once.
    let inbox_dir = temp_dir("inbox");
    let inbox = eventstore::Db::connect(&format!(
        "sqlite://{}",
        inbox_dir.join("inbox.db").display()
    ))
    .await
    .expect("inbox db");
    inbox.migrate().await.expect("inbox migrations");
    let report = orders::relay::consumer::consume_available(
        &inbox,
        &orders::relay::consumer::ConsumerConfig::new(nats.url.clone()),
    )
    .await
    .expect("consume");
    let mut positions: Vec<i64> = report.applied.iter().map(|e| e.position).collect();
    positions.sort_unstable();
    assert_eq!(
        positions,
        (1..=head).collect::<Vec<_>>(),
        "every event once"
    );
    assert_eq!(
        report.duplicates, 0,
        "the broker dropped re-published events"
    );
    inbox.close().await;
    let _ = std::fs::remove_dir_all(&inbox_dir);

    // No event lost or applied twice in the read models.
    assert_equal_to_rebuild(&client, &b.base(), head).await;
    assert_chain_intact(&db, head).await;

    drop((a, b, nats));
    db.cleanup().await;
}

#[tokio::test]
async fn three_instances_with_restarts_under_load_match_a_rebuild() {
    let db = TestDb::postgres().await.expect("PostgreSQL for tests");
    let url = db.db().url().to_owned();
    let client = client();
    let mut instances = vec![
        Instance::spawn("one", &url, None),
        Instance::spawn("two", &url, None),
        Instance::spawn("three", &url, None),
    ];
    for i in &instances {
        i.wait_ready(&client).await;
    }
    let product = product(&client, &instances[0].base()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load_task = load(
        instances.iter().map(Instance::base).collect(),
        product,
        stop.clone(),
    );
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Kill whichever instance runs the orders projection (as the others see it). Right
        // after a failover the lease can be between holders ("unknown"): ask again.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let holder = loop {
            let statuses = projections(&client, &instances[(round + 1) % 3].base()).await;
            let holder = statuses
                .iter()
                .find(|p| p["name"] == "orders")
                .and_then(|p| p["instance"].as_str())
                .unwrap_or_default()
                .to_owned();
            if instances.iter().any(|i| i.name == holder) {
                break holder;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no instance holds the orders projection: {statuses:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let victim = instances
            .iter_mut()
            .find(|i| i.name == holder)
            .expect("the holder is one of ours (checked above)");
        victim.kill9();
        tokio::time::sleep(Duration::from_millis(500)).await;
        victim.start();
        victim.wait_ready(&client).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let placed = load_task.await.expect("load task");
    assert!(placed > 0, "load placed orders");

    let base = instances[0].base();
    let head = caught_up_to(&client, &base, Some(log_head(&db).await)).await;
    // Every instance agrees on the holders and is caught up.
    for i in &instances {
        assert_eq!(caught_up_to(&client, &i.base(), Some(head)).await, head);
    }
    assert_equal_to_rebuild(&client, &base, head).await;
    // Three writers on one log, killed and restarted under load: every row still links to the
    // one before it (each instance's writer chains to the rows the others committed).
    assert_chain_intact(&db, head).await;

    for i in &mut instances {
        i.terminate();
    }
    drop(instances);
    db.cleanup().await;
}
