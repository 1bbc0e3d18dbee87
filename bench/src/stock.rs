//! Scenario 7: stock. (a) Contended confirmations through the real command service: 64 clients
//! confirm draft orders whose lines are on 10 products; every confirmation is one atomic
//! multi-stream append (the order's `OrderConfirmed` + a `StockReserved` on each of its products,
//! each product stream at the version its stock was read). On PostgreSQL also with two command
//! services on two stores over one database ("two instances"), so that products move under a
//! service's feet and appends really conflict. (b) The DCB conditional append (`append_multi`
//! with an `AppendCondition` on the writer's own tag) beside the plain append, same writers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::values::{CustomerName, Email, Money, ProductName, Quantity, Sku, StockUnits};
use domain::{CustomerId, DomainError, OrderId, ProductId};
use eventstore::{
    AppendCondition, Backend, EventQuery, EventStore as _, ExpectedVersion, NewEvent, QueryItem,
    SqlEventStore, StoreError, StreamAppend,
};
use orders::command::{CommandConfig, CommandContext, CommandError, CommandService, NewProduct};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;
use tokio::sync::Barrier;

use crate::Plan;
use crate::appends::{Appender, Attempt, Measured, Payload, Workload, drive};
use crate::load::v;
use crate::report::{Section, Table};
use crate::support::{Percentiles, PgAdmin, ms, ratio, thousands};

const CLIENTS: usize = 64;
const PRODUCTS: usize = 10;
/// Units each product starts with: far more than the run can reserve.
const INITIAL_STOCK: u32 = 10_000_000;
/// Upper bound of the confirmation window (the pool of drafts normally runs out first).
const MAX_CONFIRM_WINDOW: Duration = Duration::from_secs(30);
/// A client gives up on an order after this many `Conflict` answers (counted as an error).
const MAX_CLIENT_RETRIES: u32 = 50;
/// Writers of the conditional-append comparison.
const DCB_WRITERS: usize = 16;

/// One configuration of the confirmation race.
#[derive(Debug, Clone, Copy, Serialize)]
struct Race {
    backend: &'static str,
    instances: usize,
}

#[derive(Debug, Clone, Serialize)]
struct Confirmed {
    /// Drafts prepared (before the window).
    drafts: usize,
    confirmed: u64,
    refused_for_stock: u64,
    /// Errors other than a stock refusal (including orders given up after retries).
    errors: u64,
    first_error: Option<String>,
    /// `CommandError::Conflict` answers the clients retried.
    client_retries: u64,
    /// Attempts beyond the first inside the command service (products that moved).
    service_retries: u64,
    /// Drafts not confirmed when the window closed.
    left: u64,
    seconds: f64,
    per_sec: f64,
    latency: Percentiles,
    /// Mean latency (the percentiles hide how long the queued tail waits).
    mean_ms: f64,
    prepare_seconds: f64,
}

fn ctx() -> CommandContext {
    CommandContext::new()
}

fn refused_for_stock(e: &CommandError) -> bool {
    matches!(
        e,
        CommandError::Domain(DomainError::InsufficientStock { .. })
    )
}

/// Products with plenty of stock, a customer per client and `per_client` drafts per client
/// (1–2 lines of 1–3 units on the 10 products), through `service`.
async fn prepare(service: &CommandService, per_client: usize) -> anyhow::Result<Vec<Vec<OrderId>>> {
    let mut products = Vec::with_capacity(PRODUCTS);
    for n in 0..PRODUCTS {
        let new = NewProduct::new(
            v(Sku::parse(&format!("BENCH-STOCK-{n}")))?,
            v(ProductName::parse(&format!("Stocked product {n}")))?,
            v(Money::from_cents(250))?,
        )
        .with_stock(v(StockUnits::new(INITIAL_STOCK))?);
        products.push(ProductId::new(
            service.create_product(None, new, &ctx()).await?.id,
        ));
    }
    let products = Arc::new(products);
    let mut tasks = Vec::with_capacity(CLIENTS);
    for n in 0..CLIENTS {
        let service = service.clone();
        let products = products.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(7_000 + n as u64);
            let who = CustomerId::new(
                service
                    .register_customer(
                        None,
                        v(CustomerName::parse(&format!("Stock client {n}")))?,
                        v(Email::parse(&format!("stock{n}@bench.example.com")))?,
                        &ctx(),
                    )
                    .await?
                    .id,
            );
            let mut drafts = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let order = OrderId::new(service.place_order(None, who, &ctx()).await?.id);
                let first = rng.random_range(0..PRODUCTS);
                let mut lines = vec![first];
                if rng.random_bool(0.5) {
                    let second = (first + rng.random_range(1..PRODUCTS)) % PRODUCTS;
                    lines.push(second);
                }
                for p in lines {
                    let q = rng.random_range(1..=3_u32);
                    service
                        .add_item(order, products[p], v(Quantity::new(q))?, &ctx())
                        .await?;
                }
                drafts.push(order);
            }
            anyhow::Ok(drafts)
        }));
    }
    let mut all = Vec::with_capacity(CLIENTS);
    for t in tasks {
        all.push(t.await??);
    }
    Ok(all)
}

/// The clients confirm their drafts, each through `services[client % len]`.
async fn confirm_all(
    services: &[CommandService],
    drafts: Vec<Vec<OrderId>>,
) -> anyhow::Result<Confirmed> {
    let total: usize = drafts.iter().map(Vec::len).sum();
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(drafts.len() + 1));
    let mut tasks = Vec::with_capacity(drafts.len());
    for (n, orders) in drafts.into_iter().enumerate() {
        let service = services[n % services.len()].clone();
        let stop = stop.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = Confirmed {
                drafts: orders.len(),
                confirmed: 0,
                refused_for_stock: 0,
                errors: 0,
                first_error: None,
                client_retries: 0,
                service_retries: 0,
                left: 0,
                seconds: 0.0,
                per_sec: 0.0,
                latency: Percentiles::default(),
                mean_ms: 0.0,
                prepare_seconds: 0.0,
            };
            let mut latencies = Vec::with_capacity(orders.len());
            barrier.wait().await;
            for order in orders {
                if stop.load(Ordering::Relaxed) {
                    r.left += 1;
                    continue;
                }
                let t = Instant::now();
                let mut retries = 0;
                loop {
                    match service.confirm(order, &ctx()).await {
                        Ok(outcome) => {
                            latencies.push(t.elapsed());
                            r.confirmed += 1;
                            r.service_retries += u64::from(outcome.attempts.saturating_sub(1));
                        }
                        Err(e) if refused_for_stock(&e) => r.refused_for_stock += 1,
                        Err(CommandError::Conflict { .. }) if retries < MAX_CLIENT_RETRIES => {
                            retries += 1;
                            r.client_retries += 1;
                            continue;
                        }
                        Err(e) => {
                            r.errors += 1;
                            if r.first_error.is_none() {
                                r.first_error = Some(e.to_string());
                            }
                        }
                    }
                    break;
                }
            }
            anyhow::Ok((r, latencies))
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let deadline = started + MAX_CONFIRM_WINDOW;
    let mut total_r = Confirmed {
        drafts: total,
        confirmed: 0,
        refused_for_stock: 0,
        errors: 0,
        first_error: None,
        client_retries: 0,
        service_retries: 0,
        left: 0,
        seconds: 0.0,
        per_sec: 0.0,
        latency: Percentiles::default(),
        mean_ms: 0.0,
        prepare_seconds: 0.0,
    };
    let mut latencies = Vec::with_capacity(total);
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    for t in tasks {
        let (r, l) = t.await??;
        total_r.confirmed += r.confirmed;
        total_r.refused_for_stock += r.refused_for_stock;
        total_r.errors += r.errors;
        total_r.client_retries += r.client_retries;
        total_r.service_retries += r.service_retries;
        total_r.left += r.left;
        if total_r.first_error.is_none() {
            total_r.first_error = r.first_error;
        }
        latencies.extend(l);
    }
    stopper.abort();
    total_r.seconds = started.elapsed().as_secs_f64();
    total_r.per_sec = total_r.confirmed as f64 / total_r.seconds;
    if !latencies.is_empty() {
        total_r.mean_ms = latencies.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0
            / latencies.len() as f64;
    }
    total_r.latency = Percentiles::of(&mut latencies);
    Ok(total_r)
}

async fn measure_race(
    backend: Backend,
    instances: usize,
    pg: &PgAdmin,
    per_client: usize,
) -> anyhow::Result<Confirmed> {
    let fresh = pg.fresh_db(backend, "stock").await?;
    let db = fresh
        .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
        .await?;
    let mut dbs = vec![db.clone()];
    let mut stores = Vec::new();
    let mut services = Vec::new();
    let result = async {
        for i in 0..instances {
            // A second instance has its own pool, its own store (writer) and its own locks.
            let db = if i == 0 {
                db.clone()
            } else {
                let extra = fresh
                    .connect(eventstore::db::DEFAULT_MAX_CONNECTIONS)
                    .await?;
                dbs.push(extra.clone());
                extra
            };
            let store = SqlEventStore::open(db, orders::command::upcaster_registry()).await?;
            stores.push(store.clone());
            services.push(CommandService::new(store, CommandConfig::default()));
        }
        let prepared = Instant::now();
        let drafts = prepare(&services[0], per_client).await?;
        let prepare_seconds = prepared.elapsed().as_secs_f64();
        let mut r = confirm_all(&services, drafts).await?;
        r.prepare_seconds = prepare_seconds;
        anyhow::Ok(r)
    }
    .await;
    drop(services);
    for store in stores {
        store.shutdown().await;
    }
    for db in dbs {
        db.close().await;
    }
    fresh.cleanup().await;
    result
}

/// How the DCB comparison appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum Mode {
    /// `append` at the exact version, events without tags (as in scenario 1).
    Plain,
    /// `append` at the exact version, each event tagged with its writer's tag.
    PlainTagged,
    /// `append_multi` of the one stream at the exact version, tagged, with a condition: no event
    /// of this type carrying the writer's tag after the writer's last position.
    Conditional,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Self::Plain => "append, untagged",
            Self::PlainTagged => "append, tagged",
            Self::Conditional => "append_multi + condition",
        }
    }
}

const MODES: [Mode; 3] = [Mode::Plain, Mode::PlainTagged, Mode::Conditional];

struct Dcb {
    store: SqlEventStore,
    mode: Mode,
    /// Each writer's (stream's) last appended position: its condition's `after`.
    after: Mutex<HashMap<String, i64>>,
}

fn tag_of(stream: &str) -> String {
    format!("writer:{stream}")
}

#[async_trait]
impl Appender for Dcb {
    async fn append(
        &self,
        stream: &str,
        expected: i64,
        payload: &Payload,
    ) -> anyhow::Result<Attempt> {
        let mut event = NewEvent::new(
            payload.event_type,
            1,
            payload.data.clone(),
            payload.metadata.clone(),
        );
        if self.mode != Mode::Plain {
            event = event.with_tags([tag_of(stream)]);
        }
        let result = match self.mode {
            Mode::Plain | Mode::PlainTagged => self
                .store
                .append(
                    stream,
                    "product",
                    ExpectedVersion::Exact(expected),
                    vec![event],
                )
                .await
                .map(|r| r.last_position),
            Mode::Conditional => {
                let after = self
                    .after
                    .lock()
                    .expect("not poisoned")
                    .get(stream)
                    .copied()
                    .unwrap_or(0);
                let condition = AppendCondition::new(
                    EventQuery::new(vec![
                        QueryItem::types([payload.event_type]).with_tags([tag_of(stream)]),
                    ]),
                    after,
                );
                self.store
                    .append_multi(
                        vec![StreamAppend::new(
                            stream,
                            "product",
                            ExpectedVersion::Exact(expected),
                            vec![event],
                        )],
                        Some(condition),
                    )
                    .await
                    .map(|r| r[0].last_position)
            }
        };
        match result {
            Ok(position) => {
                if self.mode == Mode::Conditional {
                    self.after
                        .lock()
                        .expect("not poisoned")
                        .insert(stream.to_owned(), position);
                }
                Ok(Attempt::Appended)
            }
            Err(
                StoreError::WrongExpectedVersion { .. } | StoreError::WrongExpectedVersions { .. },
            ) => Ok(Attempt::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn version(&self, stream: &str) -> anyhow::Result<i64> {
        Ok(self.store.stream_version(stream).await?)
    }
}

async fn measure_dcb(
    backend: Backend,
    pg: &PgAdmin,
    mode: Mode,
    window: Duration,
) -> anyhow::Result<Measured> {
    let fresh = pg.fresh_db(backend, "dcb").await?;
    let db = fresh
        .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
        .await?;
    let result = async {
        let store = SqlEventStore::open(db.clone(), orders::command::upcaster_registry()).await?;
        let r = drive(
            Arc::new(Dcb {
                store: store.clone(),
                mode,
                after: Mutex::new(HashMap::new()),
            }),
            Workload {
                writers: DCB_WRITERS,
                streams: DCB_WRITERS,
            },
            window,
        )
        .await;
        store.shutdown().await;
        r
    }
    .await;
    db.close().await;
    fresh.cleanup().await;
    result
}

#[derive(Debug, Clone, Serialize)]
struct RaceRow {
    race: Race,
    result: Result<Confirmed, String>,
}

#[derive(Debug, Clone, Serialize)]
struct DcbRow {
    backend: &'static str,
    mode: Mode,
    writers: usize,
    result: Result<Measured, String>,
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// `/proc/loadavg`'s 1-minute figure, when there is one (the machine may be shared).
pub fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().next().map(str::to_owned)
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let load_before = load_average();
    let mut races = Vec::new();
    for &backend in backends {
        let instances: &[usize] = match backend {
            Backend::Sqlite => &[1],
            Backend::Postgres => &[1, 2],
        };
        for &n in instances {
            eprintln!("stock: {backend}, confirmations, {n} instance(s)");
            let r = measure_race(backend, n, pg, plan.stock_orders_per_client).await;
            if let Err(e) = &r {
                eprintln!("  failed: {e:#}");
            }
            races.push(RaceRow {
                race: Race {
                    backend: backend_name(backend),
                    instances: n,
                },
                result: r.map_err(|e| format!("{e:#}")),
            });
        }
    }
    let window = Duration::from_secs_f64(plan.stock_secs);
    let mut dcbs = Vec::new();
    for &backend in backends {
        for mode in MODES {
            eprintln!("stock: {backend}, {}", mode.label());
            let r = measure_dcb(backend, pg, mode, window).await;
            if let Err(e) = &r {
                eprintln!("  failed: {e:#}");
            }
            dcbs.push(DcbRow {
                backend: backend_name(backend),
                mode,
                writers: DCB_WRITERS,
                result: r.map_err(|e| format!("{e:#}")),
            });
        }
    }

    let mut notes = Vec::new();
    let mut confirm = Table::new(
        &format!(
            "Contended confirmations: {CLIENTS} clients, {PRODUCTS} products, orders of 1–2 lines × 1–3 units"
        ),
        &[
            "backend",
            "instances",
            "confirmations/s",
            "p50 ms",
            "mean ms",
            "p99 ms",
            "max ms",
            "confirmed",
            "refused (stock)",
            "service retries",
            "client retries",
            "errors",
        ],
    );
    for row in &races {
        let instances = if row.race.instances == 1 {
            "1".to_owned()
        } else {
            format!("{} (clients split)", row.race.instances)
        };
        match &row.result {
            Ok(m) => {
                confirm.row(vec![
                    row.race.backend.to_owned(),
                    instances,
                    thousands(m.per_sec),
                    ms(m.latency.p50_ms),
                    ms(m.mean_ms),
                    ms(m.latency.p99_ms),
                    ms(m.latency.max_ms),
                    thousands(m.confirmed as f64),
                    thousands(m.refused_for_stock as f64),
                    thousands(m.service_retries as f64),
                    thousands(m.client_retries as f64),
                    thousands(m.errors as f64),
                ]);
                notes.push(format!(
                    "{} with {} instance(s): {} drafts prepared in {:.1} s before the window, {} confirmed in {:.2} s{}.",
                    row.race.backend,
                    row.race.instances,
                    thousands(m.drafts as f64),
                    m.prepare_seconds,
                    thousands(m.confirmed as f64),
                    m.seconds,
                    if m.left > 0 {
                        format!(
                            ", {} left unconfirmed when the {} s cap closed the window",
                            m.left,
                            MAX_CONFIRM_WINDOW.as_secs()
                        )
                    } else {
                        String::new()
                    }
                ));
                if let Some(e) = &m.first_error {
                    notes.push(format!(
                        "{} with {} instance(s): {} errors, the first: {e}",
                        row.race.backend, row.race.instances, m.errors
                    ));
                }
            }
            Err(e) => {
                confirm.row(vec![
                    row.race.backend.to_owned(),
                    instances,
                    "failed".to_owned(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                notes.push(format!(
                    "{} with {} instance(s): failed: {e}",
                    row.race.backend, row.race.instances
                ));
            }
        }
    }

    let mut dcb = Table::new(
        &format!(
            "Conditional (DCB) append vs plain append: {DCB_WRITERS} writers, own stream each, one event per append"
        ),
        &[
            "backend",
            "append",
            "appends/s",
            "p50 ms",
            "p99 ms",
            "vs untagged",
            "conflicts",
            "errors",
        ],
    );
    for &backend in backends {
        let name = backend_name(backend);
        let plain = dcbs
            .iter()
            .find(|r| r.backend == name && r.mode == Mode::Plain)
            .and_then(|r| r.result.as_ref().ok())
            .map(|m| m.per_sec);
        for row in dcbs.iter().filter(|r| r.backend == name) {
            match &row.result {
                Ok(m) => {
                    dcb.row(vec![
                        name.to_owned(),
                        row.mode.label().to_owned(),
                        thousands(m.per_sec),
                        ms(m.latency.p50_ms),
                        ms(m.latency.p99_ms),
                        ratio(Some(m.per_sec), plain),
                        thousands(m.conflicts as f64),
                        thousands(m.errors as f64),
                    ]);
                    if let Some(e) = &m.first_error {
                        notes.push(format!(
                            "{name} {}: {} errors, the first: {e}",
                            row.mode.label(),
                            m.errors
                        ));
                    }
                }
                Err(e) => {
                    dcb.row(vec![
                        name.to_owned(),
                        row.mode.label().to_owned(),
                        "failed".to_owned(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                    notes.push(format!("{name} {}: failed: {e}", row.mode.label()));
                }
            }
        }
    }

    notes.push(format!(
        "Confirmations go through `CommandService::confirm` (default `CommandConfig`): each is one atomic multi-stream append of the order's `OrderConfirmed` and a `StockReserved` per product, every product stream at the exact version its stock was read; products start with {} units each so no confirmation should be refused for stock. The drafts (`place_order` + `add_item`, {} per client) are prepared before the window; only the confirmations are timed, latency from the first call to the accepted confirmation (including the client's retries).",
        thousands(f64::from(INITIAL_STOCK)),
        plan.stock_orders_per_client
    ));
    notes.push(format!(
        "Retries: \"service retries\" are the attempts beyond the first inside the command service (a product moved between its read and the append, or the append conflicted: reload, decide again, jittered backoff from 10 ms doubling to 250 ms); \"client retries\" are `CommandError::Conflict` answers (the service ran out of attempts) that the client retried, up to {MAX_CLIENT_RETRIES} per order; \"errors\" is every other failure except a stock refusal (a refusal is counted apart)."
    ));
    notes.push("What limits confirmations: the 10 product streams are the hot spot. Within one instance the service holds the order's stream lock, then takes its product streams' locks in id order and keeps them over the product loads (snapshot every 50 events + tail), the decision and the append, so the 64 clients queue on those locks instead of conflicting (service retries are expected at 0) and an order of two products holds the first while it waits for the second: at most 10 confirmations (one per product lock) are past the locks at once, whatever the clients, and the queue shows up as a mean latency far above the median (mean ≈ 64 clients / rate) and a tail of hundreds of ms. With two instances on PostgreSQL the locks are per process: the other instance's appends move the products, the append fails on a product version and the service reloads and retries after a jittered backoff (10 ms doubling to 250 ms), which is what the service retries and the longer tail show.".to_owned());
    notes.push(format!(
        "DCB: each cell is one {} s window on a fresh database, {DCB_WRITERS} writers on their own stream, same durability. \"append, tagged\" carries the writer's tag `writer:<stream>` (one `event_tags` row per event); \"append_multi + condition\" appends the same tagged event with `AppendCondition` = no `ProductRepriced` with the writer's tag after the writer's last position (it always passes; a failed condition would be counted as an error). The conditions of a group-commit batch are checked by one extra statement (a column per condition: the `event_tags` index scan on the tag joined to `events` for the type, first match only) after the log head lock is taken, so that statement's planning and execution are serial with every commit of the log.",
        plan.stock_secs
    ));
    if let (Some(before), Some(after)) = (load_before, load_average()) {
        notes.push(format!(
            "1-minute load average of the machine before / after this section: {before} / {after} (2 cores; anything else running skews these figures)."
        ));
    }
    Ok(Section {
        id: "stock",
        title: "7. Stock: contended confirmations and the conditional (DCB) append".to_owned(),
        tables: vec![confirm, dcb],
        notes,
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "confirmations": races, "dcb": dcbs }),
    })
}
