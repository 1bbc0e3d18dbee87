//! The bounded load generator: workers run order lifecycles through the REST API at a global
//! rate limit, every command with its own `Idempotency-Key` and `X-Correlation-Id` (kept across
//! retries), and the ledger records what each command's client saw.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng as _;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use uuid::Uuid;

/// What the client finally saw for one logical command.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A 2xx reply with the stream version and global position of the command's event.
    Acked { version: i64, position: i64 },
    /// A 4xx reply: the command was refused (it must not be in the log).
    Rejected { status: u16, code: String },
    /// No reply or only 5xx replies until the client gave up: may or may not be in the log.
    Failed { error: String },
}

/// One logical command (all its retries share the correlation id and idempotency key).
#[derive(Debug, Clone)]
pub struct Record {
    pub correlation_id: Uuid,
    pub kind: &'static str,
    pub stream_id: String,
    pub outcome: Outcome,
}

/// Every command sent, and the errors seen on the way.
#[derive(Debug, Default)]
pub struct Ledger {
    pub records: Mutex<Vec<Record>>,
    /// Error replies/transport errors seen before a command got its final outcome, by text.
    pub transient: Mutex<BTreeMap<String, u64>>,
    pub attempts: AtomicU64,
}

impl Ledger {
    pub fn snapshot(&self) -> Vec<Record> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let records = self.snapshot();
        let acked = records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Acked { .. }))
            .count();
        let rejected = records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Rejected { .. }))
            .count();
        let failed = records.len() - acked - rejected;
        (records.len(), acked, rejected, failed)
    }

    fn note(&self, text: String) {
        if let Ok(mut m) = self.transient.lock() {
            *m.entry(text).or_default() += 1;
        }
    }

    /// The most frequent transient errors, for the report.
    pub fn top_errors(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .transient
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        v.truncate(n);
        v
    }
}

/// A global rate limit: at most `per_sec` requests per second over all workers.
pub struct RateLimit {
    interval: tokio::sync::Mutex<tokio::time::Interval>,
}

impl RateLimit {
    pub fn new(per_sec: u32) -> Self {
        let period = Duration::from_secs_f64(1.0 / f64::from(per_sec.max(1)));
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            interval: tokio::sync::Mutex::new(interval),
        }
    }

    pub async fn acquire(&self) {
        self.interval.lock().await.tick().await;
    }
}

/// The HTTP client of the API.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub admin_token: String,
}

impl Api {
    /// A client acting as the bootstrap admin: every request carries the admin token (commands
    /// need a signed-in user).
    pub fn new(base: String, admin_token: String) -> anyhow::Result<Self> {
        let mut auth = reqwest::header::HeaderMap::new();
        auth.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(&format!("Bearer {admin_token}"))?,
        );
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(64)
                .default_headers(auth)
                .build()?,
            base,
            admin_token,
        })
    }

    /// One attempt of a command: the status and JSON body, or a transport error.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        key: &str,
        correlation_id: Uuid,
    ) -> Result<(u16, Value), String> {
        self.send_full(method, path, body, key, correlation_id)
            .await
            .map(|(status, value, _)| (status, value))
    }

    /// [`send`](Self::send), also returning the `Retry-After` header.
    pub async fn send_full(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        key: &str,
        correlation_id: Uuid,
    ) -> Result<(u16, Value, Option<String>), String> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Idempotency-Key", key)
            .header("X-Correlation-Id", correlation_id.to_string());
        if let Some(b) = body {
            req = req.json(b);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let value = resp.json::<Value>().await.unwrap_or(Value::Null);
                Ok((status, value, retry_after))
            }
            Err(e) => Err(transport_error(&e)),
        }
    }

    /// A GET returning JSON; errors on non-2xx.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = resp.status();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "GET {path}: {status} {body}");
        Ok(body)
    }

    /// An admin POST (Bearer token) returning status and JSON.
    pub async fn admin_post(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin_token)
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json::<Value>().await.unwrap_or(Value::Null)))
    }
}

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused".into()
    } else if e.is_timeout() {
        "timeout".into()
    } else {
        "connection lost (no reply)".into()
    }
}

/// Shared state of one load run.
pub struct Load {
    pub api: Api,
    pub ledger: Arc<Ledger>,
    pub limit: RateLimit,
    /// Workers finish their current command and exit.
    pub stop: AtomicBool,
    /// How long a command is retried (same key) before the client gives up.
    pub retry_for: Duration,
    pub customers: Mutex<Vec<Uuid>>,
    pub products: Mutex<Vec<Uuid>>,
    pub unexpected_rejections: AtomicU64,
    /// When set, a 5xx reply is the command's final outcome (never retried away) and is
    /// counted in [`Load::server_errors`].
    pub strict_5xx: AtomicBool,
    /// 5xx replies by `"<status> <code> retry-after=<header or none>"` (with `strict_5xx`).
    pub server_errors: Mutex<BTreeMap<String, u64>>,
}

impl Load {
    pub fn new(api: Api, per_sec: u32, retry_for: Duration) -> Arc<Self> {
        Arc::new(Self {
            api,
            ledger: Arc::new(Ledger::default()),
            limit: RateLimit::new(per_sec),
            stop: AtomicBool::new(false),
            retry_for,
            customers: Mutex::new(Vec::new()),
            products: Mutex::new(Vec::new()),
            unexpected_rejections: AtomicU64::new(0),
            strict_5xx: AtomicBool::new(false),
            server_errors: Mutex::new(BTreeMap::new()),
        })
    }

    /// Runs one logical command to its final outcome (retrying transport errors and 5xx with
    /// the same key), records it, and returns it.
    pub async fn command(
        &self,
        kind: &'static str,
        stream_id: String,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Outcome {
        let correlation_id = Uuid::new_v4();
        let key = format!("rel-{correlation_id}");
        let deadline = Instant::now() + self.retry_for;
        let mut backoff = Duration::from_millis(50);
        let outcome = loop {
            self.limit.acquire().await;
            self.ledger.attempts.fetch_add(1, Ordering::Relaxed);
            let error = match self
                .api
                .send_full(method.clone(), path, body.as_ref(), &key, correlation_id)
                .await
            {
                Ok((status, v, retry_after))
                    if status >= 500 && self.strict_5xx.load(Ordering::Relaxed) =>
                {
                    let code = v["error"]["code"].as_str().unwrap_or("?").to_owned();
                    let key = format!(
                        "{status} {code} retry-after={}",
                        retry_after.as_deref().unwrap_or("none")
                    );
                    if let Ok(mut m) = self.server_errors.lock() {
                        *m.entry(key.clone()).or_default() += 1;
                    }
                    break Outcome::Failed { error: key };
                }
                Ok((status, v, _)) if (200..300).contains(&status) => {
                    break Outcome::Acked {
                        version: v["version"].as_i64().unwrap_or(-1),
                        position: v["position"].as_i64().unwrap_or(-1),
                    };
                }
                Ok((status, v, _)) if (400..500).contains(&status) && status != 429 => {
                    break Outcome::Rejected {
                        status,
                        code: v["error"]["code"].as_str().unwrap_or("?").to_owned(),
                    };
                }
                Ok((status, v, _)) => format!(
                    "{status} {}: {}",
                    v["error"]["code"].as_str().unwrap_or("?"),
                    v["error"]["message"].as_str().unwrap_or("")
                ),
                Err(e) => e,
            };
            self.ledger.note(error.clone());
            if Instant::now() + backoff > deadline {
                break Outcome::Failed { error };
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(800));
        };
        if let Ok(mut r) = self.ledger.records.lock() {
            r.push(Record {
                correlation_id,
                kind,
                stream_id,
                outcome: outcome.clone(),
            });
        }
        outcome
    }

    async fn ok(
        &self,
        kind: &'static str,
        stream: String,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> bool {
        match self.command(kind, stream, method, path, body).await {
            Outcome::Acked { .. } => true,
            Outcome::Rejected { .. } => {
                self.unexpected_rejections.fetch_add(1, Ordering::Relaxed);
                false
            }
            Outcome::Failed { .. } => false,
        }
    }

    /// Customers and products the orders use.
    pub async fn seed(&self, customers: usize, products: usize) -> anyhow::Result<()> {
        for i in 0..customers {
            let id = Uuid::new_v4();
            let body = json!({ "customer_id": id, "name": format!("Customer {i}"), "email": format!("c{i}-{}@example.com", &id.simple().to_string()[..8]) });
            if self
                .ok(
                    "register_customer",
                    format!("customer-{id}"),
                    reqwest::Method::POST,
                    "/api/customers",
                    Some(body),
                )
                .await
                && let Ok(mut c) = self.customers.lock()
            {
                c.push(id);
            }
        }
        for i in 0..products {
            let id = Uuid::new_v4();
            let body = json!({ "product_id": id, "sku": format!("REL-{i:04}-{}", &id.simple().to_string()[..6]).to_uppercase(), "name": format!("Product {i}"), "price_cents": 100 + 37 * i as i64, "initial_stock": 1_000_000_000 });
            if self
                .ok(
                    "create_product",
                    format!("product-{id}"),
                    reqwest::Method::POST,
                    "/api/products",
                    Some(body),
                )
                .await
                && let Ok(mut p) = self.products.lock()
            {
                p.push(id);
            }
        }
        let (c, p) = (
            self.customers.lock().map(|c| c.len()).unwrap_or(0),
            self.products.lock().map(|p| p.len()).unwrap_or(0),
        );
        anyhow::ensure!(
            c > 0 && p >= 3,
            "seeding failed ({c} customers, {p} products)"
        );
        Ok(())
    }

    /// Starts `workers` workers; they stop when [`Load::stop`] is set.
    pub fn spawn_workers(self: &Arc<Self>, workers: usize) -> Vec<tokio::task::JoinHandle<()>> {
        (0..workers)
            .map(|w| {
                let load = Arc::clone(self);
                tokio::spawn(async move { load.worker(w as u64).await })
            })
            .collect()
    }

    /// One worker: order lifecycles until stopped, with the odd rename and reprice.
    async fn worker(self: Arc<Self>, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed ^ rand::random::<u64>());
        let post = reqwest::Method::POST;
        while !self.stop.load(Ordering::Relaxed) {
            let customers = self.customers.lock().map(|c| c.clone()).unwrap_or_default();
            let products = self.products.lock().map(|p| p.clone()).unwrap_or_default();
            if customers.is_empty() || products.len() < 3 {
                return;
            }
            let roll: f64 = rng.random();
            if roll < 0.03 {
                let c = customers[rng.random_range(0..customers.len())];
                let name = format!("Renamed {}", Uuid::new_v4().simple());
                self.ok(
                    "rename_customer",
                    format!("customer-{c}"),
                    post.clone(),
                    &format!("/api/customers/{c}/rename"),
                    Some(json!({ "name": &name[..24] })),
                )
                .await;
                continue;
            }
            if roll < 0.05 {
                // Reprices may legitimately collide (same price twice): not counted as unexpected.
                let p = products[rng.random_range(0..products.len())];
                let price = rng.random_range(100..100_000_i64);
                self.command(
                    "reprice",
                    format!("product-{p}"),
                    post.clone(),
                    &format!("/api/products/{p}/reprice"),
                    Some(json!({ "price_cents": price })),
                )
                .await;
                continue;
            }
            let order = Uuid::new_v4();
            let stream = format!("order-{order}");
            let customer = customers[rng.random_range(0..customers.len())];
            if !self
                .ok(
                    "place_order",
                    stream.clone(),
                    post.clone(),
                    "/api/orders",
                    Some(json!({ "order_id": order, "customer_id": customer })),
                )
                .await
            {
                continue;
            }
            let lines = rng.random_range(1..=3_usize);
            let start = rng.random_range(0..products.len());
            let mut good = true;
            for i in 0..lines {
                let p = products[(start + i) % products.len()];
                let q = rng.random_range(1..=5_i64);
                good = self
                    .ok(
                        "add_item",
                        stream.clone(),
                        post.clone(),
                        &format!("/api/orders/{order}/items"),
                        Some(json!({ "product_id": p, "quantity": q })),
                    )
                    .await;
                if !good {
                    break;
                }
            }
            if !good {
                continue;
            }
            let path = |action: &str| format!("/api/orders/{order}/{action}");
            let cancel = json!({ "reason": "reliability test" });
            match rng.random_range(0..10) {
                0 => {
                    self.ok(
                        "cancel",
                        stream,
                        post.clone(),
                        &path("cancel"),
                        Some(cancel),
                    )
                    .await;
                }
                1 => {} // stays a draft
                _ => {
                    if !self
                        .ok(
                            "confirm",
                            stream.clone(),
                            post.clone(),
                            &path("confirm"),
                            None,
                        )
                        .await
                    {
                        continue;
                    }
                    if rng.random_range(0..8) == 0 {
                        self.ok(
                            "cancel",
                            stream,
                            post.clone(),
                            &path("cancel"),
                            Some(cancel),
                        )
                        .await;
                        continue;
                    }
                    let ship = json!({ "carrier": "DHL", "tracking_number": format!("TRK{}", rng.random_range(100_000..999_999)) });
                    if !self
                        .ok(
                            "ship",
                            stream.clone(),
                            post.clone(),
                            &path("ship"),
                            Some(ship),
                        )
                        .await
                    {
                        continue;
                    }
                    if rng.random_range(0..6) > 0 {
                        self.ok("deliver", stream, post.clone(), &path("deliver"), None)
                            .await;
                    }
                }
            }
        }
    }
}
