//! Scenario 5: command-to-browser latency. The real server (release binary) runs on a free port
//! with a fresh data directory or database, rate limit off; websocket clients subscribe to the `orders` topic;
//! commands go over HTTP at a steady rate; latency = the `changed` message covering the
//! command's position arriving at a client, minus the command's HTTP reply arriving.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use eventstore::Backend;
use eventstore::testing::FreshDb;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::Plan;
use crate::report::{Section, Table};
use crate::support::{Percentiles, PgAdmin, ms, thousands};

pub const COMMANDS_PER_SEC: u64 = 200;
const CLIENTS: [usize; 2] = [1, 500];

/// The release server binary, started on a free port with a fresh data directory or database
/// (rate limit off, no Origin header sent, so websockets are accepted as non-browser clients).
pub struct Server {
    /// The bootstrap admin token the server was started with (websockets send it too).
    pub admin_token: String,
    pub base: String,
    pub host: String,
    pub http: reqwest::Client,
    child: Option<tokio::process::Child>,
    data_dir: std::path::PathBuf,
    fresh: Option<FreshDb>,
}

/// Where the server binary is: `EVENTIDE_SERVER_BIN`, else `target/release/server`.
pub fn server_bin() -> std::path::PathBuf {
    std::env::var_os("EVENTIDE_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target/release/server"))
}

impl Server {
    pub async fn start(backend: Backend, pg: &PgAdmin) -> anyhow::Result<Self> {
        let bin = server_bin();
        anyhow::ensure!(
            bin.exists(),
            "server binary {} not found (build it with `scripts/build.sh` or \
             `cargo build --release -p server`, or set EVENTIDE_SERVER_BIN)",
            bin.display()
        );
        let data_dir =
            std::env::temp_dir().join(format!("eventide_bench_server_{}", Uuid::now_v7().simple()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let host = format!("127.0.0.1:{port}");
        let fresh = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(pg.fresh_db(backend, "server").await?),
        };
        // Commands need a signed-in user: the bench acts as the bootstrap admin (its token).
        let admin_token = format!("bench-{}", Uuid::now_v7().simple());
        let mut command = tokio::process::Command::new(&bin);
        command
            .arg("--admin-token")
            .arg(&admin_token)
            .arg("--addr")
            .arg(&host)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--rate-limit-per-sec")
            .arg("0")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(fresh) = &fresh {
            command.arg("--database-url").arg(fresh.url());
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut auth = reqwest::header::HeaderMap::new();
        auth.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(&format!("Bearer {admin_token}"))?,
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .default_headers(auth)
            .build()?;
        let server = Self {
            admin_token,
            base: format!("http://{host}"),
            host,
            http,
            child: Some(child),
            data_dir,
            fresh,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = server
                .http
                .get(format!("{}/ready", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop().await;
                anyhow::bail!("the server did not become ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// POST a JSON command; the reply's body on 2xx.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {body}");
        Ok(body)
    }

    pub async fn customer(&self, n: usize) -> anyhow::Result<String> {
        let reply = self
            .post(
                "/api/customers",
                &json!({ "name": format!("Bench Customer {n}"), "email": format!("bench{n}@example.com") }),
            )
            .await?;
        id_of(&reply)
    }

    pub async fn product(&self, n: usize) -> anyhow::Result<String> {
        let reply = self
            .post(
                "/api/products",
                &json!({ "sku": format!("BENCH-{n}"), "name": format!("Bench product {n}"), "price_cents": 1999, "initial_stock": 1_000_000_000 }),
            )
            .await?;
        id_of(&reply)
    }

    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(fresh) = self.fresh.take() {
            fresh.cleanup().await;
        }
    }
}

pub fn id_of(reply: &Value) -> anyhow::Result<String> {
    reply["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {reply}"))
}

/// Positions and arrival times of the `changed` messages of the orders projection one client saw.
type Arrivals = Arc<Mutex<Vec<(i64, Instant)>>>;

/// The part of a server message a latency client reads.
#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    change: Option<FrameChange<'a>>,
}

#[derive(serde::Deserialize)]
struct FrameChange<'a> {
    #[serde(borrow)]
    projection: &'a str,
    position: i64,
}

async fn client(
    host: &str,
    token: &str,
    arrivals: Arrivals,
    ready: oneshot::Sender<()>,
) -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{host}/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("websocket connect")?;
    ws.send(Message::Text(
        json!({ "type": "subscribe", "topics": [{ "topic": "orders" }], "since": null })
            .to_string()
            .into(),
    ))
    .await?;
    let mut ready = Some(ready);
    while let Some(msg) = ws.next().await {
        let text = match msg {
            Ok(Message::Text(text)) => text,
            Ok(_) => continue,
            Err(_) => break,
        };
        let now = Instant::now();
        // Only the fields needed (the rest, e.g. order summaries, is skipped unparsed): 500
        // clients parsing every message into a full JSON value would measure the clients.
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(text.as_str()) else {
            continue;
        };
        match (frame.kind, frame.change) {
            ("subscribed", _) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            ("changed", Some(change)) if change.projection == "orders" => {
                if let Ok(mut a) = arrivals.lock() {
                    a.push((change.position, now));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Debug, serde::Serialize)]
struct Row {
    backend: String,
    clients: usize,
    commands: usize,
    command_errors: usize,
    achieved_commands_per_sec: f64,
    latency: Percentiles,
    /// (command, client) pairs whose change never arrived within the grace period.
    missing: usize,
    reply: Percentiles,
}

async fn measure(
    backend: Backend,
    pg: &PgAdmin,
    clients: usize,
    window: Duration,
) -> anyhow::Result<Row> {
    let server = Server::start(backend, pg).await?;
    let result = async {
        let customer = server.customer(0).await?;
        let mut arrivals = Vec::with_capacity(clients);
        let mut tasks = Vec::with_capacity(clients);
        for _ in 0..clients {
            let a: Arrivals = Arc::new(Mutex::new(Vec::new()));
            let (ready, is_ready) = oneshot::channel();
            let host = server.host.clone();
            let a2 = a.clone();
            let token = server.admin_token.clone();
            tasks.push(tokio::spawn(async move {
                client(&host, &token, a2, ready).await
            }));
            tokio::time::timeout(Duration::from_secs(30), is_ready)
                .await
                .context("a websocket client was not subscribed in time")?
                .context("a websocket client failed")?;
            arrivals.push(a);
        }
        // Steady open-loop rate: one command every 5 ms, each on its own task.
        let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / COMMANDS_PER_SEC));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut commands = Vec::new();
        while started.elapsed() < window {
            ticker.tick().await;
            let http = server.http.clone();
            let url = format!("{}/api/orders", server.base);
            let body = json!({ "customer_id": customer });
            commands.push(tokio::spawn(async move {
                let sent = Instant::now();
                let r = http.post(url).json(&body).send().await?;
                let status = r.status();
                let reply: Value = r.json().await?;
                let at = Instant::now();
                anyhow::ensure!(status.is_success(), "{status} {reply}");
                let position = reply["position"]
                    .as_i64()
                    .with_context(|| format!("no position in {reply}"))?;
                anyhow::Ok((position, sent, at))
            }));
        }
        let sent_for = started.elapsed().as_secs_f64();
        let mut replies = Vec::new();
        let mut errors = 0;
        for c in commands {
            match c.await? {
                Ok(r) => replies.push(r),
                Err(_) => errors += 1,
            }
        }
        // Let the last changes arrive.
        tokio::time::sleep(Duration::from_secs(1)).await;
        for t in &tasks {
            t.abort();
        }
        let mut latencies = Vec::with_capacity(replies.len() * clients);
        let mut missing = 0;
        for a in &arrivals {
            let mut a = a.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
            a.sort_by_key(|(p, _)| *p);
            for (position, _, replied) in &replies {
                let i = a.partition_point(|(p, _)| p < position);
                match a.get(i) {
                    Some((_, arrived)) => {
                        latencies.push(arrived.saturating_duration_since(*replied));
                    }
                    None => missing += 1,
                }
            }
        }
        let mut reply_times: Vec<Duration> = replies
            .iter()
            .map(|(_, sent, at)| at.duration_since(*sent))
            .collect();
        anyhow::Ok(Row {
            backend: backend.to_string(),
            clients,
            commands: replies.len(),
            command_errors: errors,
            achieved_commands_per_sec: replies.len() as f64 / sent_for,
            latency: Percentiles::of(&mut latencies),
            missing,
            reply: Percentiles::of(&mut reply_times),
        })
    }
    .await;
    server.stop().await;
    result
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let window = Duration::from_secs_f64(plan.latency_secs);
    let mut rows = Vec::new();
    for &backend in backends {
        for clients in CLIENTS {
            eprintln!("latency: {backend}, {clients} websocket clients");
            rows.push(measure(backend, pg, clients, window).await?);
        }
    }
    let mut table = Table::new(
        &format!(
            "Command reply → websocket message, {COMMANDS_PER_SEC} commands/s (POST /api/orders)"
        ),
        &[
            "backend",
            "clients",
            "p50 ms",
            "p99 ms",
            "max ms",
            "deliveries",
            "missing",
            "commands/s achieved",
            "reply p50 ms",
            "reply p99 ms",
        ],
    );
    for r in &rows {
        table.row(vec![
            r.backend.clone(),
            r.clients.to_string(),
            ms(r.latency.p50_ms),
            ms(r.latency.p99_ms),
            ms(r.latency.max_ms),
            thousands(r.latency.count as f64),
            thousands(r.missing as f64),
            format!("{:.0}", r.achieved_commands_per_sec),
            ms(r.reply.p50_ms),
            ms(r.reply.p99_ms),
        ]);
    }
    Ok(Section {
        id: "latency",
        title: "5. Command-to-browser latency".to_owned(),
        tables: vec![table],
        notes: vec![format!(
            "{:.0} s of commands per configuration. Clients and server share the machine's cores; a \
             delivery is one (command, client) pair. A change that arrives before the HTTP reply \
             counts as 0 ms.",
            plan.latency_secs
        )],
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "rows": rows }),
    })
}
