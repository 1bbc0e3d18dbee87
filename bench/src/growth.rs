//! Scenario 10: growth. One fresh database per backend is probed (appends, an aggregate load,
//! event searches) with a nearly empty log, then filled in bulk (the rebuild scenario's fill) to
//! `growth_mid` events, its read models rebuilt from 0 by a fresh runner, probed again, filled on
//! to `growth_events`, rebuilt from 0 again (the projections' state emptied first) and probed
//! once more. The probes are the same code at every
//! checkpoint, so their figures are compared as they are: the log's size should not show in them,
//! nor in the rebuild's events/s.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::DomainEvent as _;
use domain::aggregate::Aggregate as _;
use domain::product::{Product, ProductEvent, ProductRepriced};
use domain::values::Money;
use eventstore::testing::FreshDb;
use eventstore::{Backend, Db, EventStore as _, LogSearch, SqlEventStore};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;

use crate::Plan;
use crate::appends::{Appender, Attempt, Measured, Ours, Payload, WORKLOADS, Workload, drive};
use crate::event_search::{LIMIT, check};
use crate::load::v;
use crate::rebuild::{Fill, IN_FLIGHT, caught_up, start_runner};
use crate::report::{Section, Table};
use crate::support::{Percentiles, PgAdmin, ms, ratio, thousands};

/// Events in the log before the first probe (the fill's customers and products, then orders).
const SEED_EVENTS: i64 = 1_000;
/// Events of the Product stream each load probe creates and loads.
const LOAD_EVENTS: i64 = 100;
/// A progress line every this many events of a fill.
const PROGRESS_EVERY: i64 = 1_000_000;
/// Longest wait for a catch-up or a rebuild.
const PROJECTION_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
/// "Within 20%": `|last / empty - 1| <= TOLERANCE`.
const TOLERANCE: f64 = 0.2;
/// Untimed searches before the timed ones of each filter.
const WARM_UP: usize = 5;

/// The appends scenario's 1-writer and 16-writer workloads (each writer on its own stream).
const APPEND_WORKLOADS: [Workload; 2] = [WORKLOADS[0], WORKLOADS[1]];

/// Event types of the fill's orders (what the event-type filter picks from).
const ORDER_EVENT_TYPES: [&str; 5] = [
    "OrderPlaced",
    "ItemAdded",
    "OrderConfirmed",
    "OrderShipped",
    "OrderDelivered",
];
const STREAM_TYPES: [&str; 3] = ["order", "customer", "product"];

/// [`Ours`] appending a `ProductRepriced` the read models can decode (the appends scenario's
/// payload has other field names: a rebuild over it would fault the product read models).
struct Repricing(Ours);

#[async_trait]
impl Appender for Repricing {
    async fn append(
        &self,
        stream: &str,
        expected: i64,
        payload: &Payload,
    ) -> anyhow::Result<Attempt> {
        let price = payload
            .data
            .get("price")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(1_000);
        let event = ProductEvent::from(ProductRepriced {
            price: v(Money::from_cents(price))?,
            previous_price: v(Money::from_cents(price - 1))?,
        });
        let valid = Payload {
            event_type: payload.event_type,
            data: event.to_data(),
            metadata: payload.metadata.clone(),
        };
        self.0.append(stream, expected, &valid).await
    }

    async fn version(&self, stream: &str) -> anyhow::Result<i64> {
        self.0.version(stream).await
    }
}

/// The search filters probed.
#[derive(Debug, Clone, Copy)]
enum Filter {
    Everything,
    EventType,
    StreamType,
    StreamId,
}

const FILTERS: [Filter; 4] = [
    Filter::Everything,
    Filter::EventType,
    Filter::StreamType,
    Filter::StreamId,
];

impl Filter {
    fn label(self) -> &'static str {
        match self {
            Filter::Everything => "search, no filter (newest first)",
            Filter::EventType => "search, event type",
            Filter::StreamType => "search, stream type",
            Filter::StreamId => "search, stream id (exact, an order)",
        }
    }

    fn search(self, rng: &mut StdRng, orders: &[String]) -> LogSearch {
        let base = LogSearch {
            limit: LIMIT,
            ..LogSearch::default()
        };
        match self {
            Filter::Everything => base,
            Filter::EventType => LogSearch {
                event_type: Some(
                    ORDER_EVENT_TYPES[rng.random_range(0..ORDER_EVENT_TYPES.len())].to_owned(),
                ),
                ..base
            },
            Filter::StreamType => LogSearch {
                stream_type: Some(STREAM_TYPES[rng.random_range(0..STREAM_TYPES.len())].to_owned()),
                ..base
            },
            Filter::StreamId => LogSearch {
                stream: orders
                    .get(rng.random_range(0..orders.len().max(1)))
                    .cloned(),
                ..base
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct AppendProbe {
    workload: Workload,
    measured: Measured,
}

#[derive(Debug, Clone, Serialize)]
struct SearchProbe {
    filter: &'static str,
    latency: Percentiles,
    rows_per_page: f64,
}

/// The probes at one checkpoint.
#[derive(Debug, Clone, Serialize)]
struct Probe {
    checkpoint: String,
    head_before: i64,
    head_after: i64,
    appends: Vec<AppendProbe>,
    load: Percentiles,
    searches: Vec<SearchProbe>,
    /// SQLite: the file and its WAL; PostgreSQL: `pg_database_size`. After the probes.
    db_bytes: u64,
}

/// Filling to a checkpoint and rebuilding the read models from 0 there.
#[derive(Debug, Clone, Default, Serialize)]
struct Stage {
    target: i64,
    head: i64,
    fill_events: i64,
    fill_seconds: f64,
    rebuild_events: i64,
    rebuild_seconds: f64,
}

/// The rows of the stage table, in the order of [`Stage::steps`].
const STEPS: [&str; 2] = [
    "bulk fill (order appends)",
    "rebuild from 0 (a fresh runner, empty read models)",
];

impl Stage {
    /// (events, seconds) of the fill and the rebuild.
    fn steps(&self) -> [(i64, f64); 2] {
        [
            (self.fill_events, self.fill_seconds),
            (self.rebuild_events, self.rebuild_seconds),
        ]
    }
}

#[derive(Debug, Serialize)]
struct Row {
    backend: String,
    probes: Vec<Probe>,
    stages: Vec<Stage>,
    projections: Vec<&'static str>,
}

/// Short label of an event count: `1M`, `200k`, `1,500`.
fn short(n: i64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n % 1_000 == 0 {
        format!("{}k", n / 1_000)
    } else {
        thousands(n as f64)
    }
}

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else {
        format!("{:.1} MB", b / 1e6)
    }
}

async fn db_size(db: &Db, sqlite: Option<&Path>) -> anyhow::Result<u64> {
    use anyhow::Context as _;
    match sqlite {
        Some(path) => {
            let file = std::fs::metadata(path)
                .with_context(|| format!("cannot stat {}", path.display()))?
                .len();
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            let wal = std::fs::metadata(&wal).map_or(0, |m| m.len());
            Ok(file + wal)
        }
        None => {
            let bytes: i64 = sqlx::query_scalar("select pg_database_size(current_database())")
                .fetch_one(db.pool())
                .await
                .context("pg_database_size")?;
            Ok(u64::try_from(bytes)?)
        }
    }
}

/// `samples` timed searches of `filter` (after a few untimed ones), each page checked.
async fn search(
    store: &SqlEventStore,
    orders: &[String],
    filter: Filter,
    samples: usize,
    rng: &mut StdRng,
) -> anyhow::Result<SearchProbe> {
    anyhow::ensure!(!orders.is_empty(), "no order stream sampled by the fill");
    for _ in 0..WARM_UP {
        store.search_log(&filter.search(rng, orders)).await?;
    }
    let mut latencies = Vec::with_capacity(samples);
    let mut rows = 0_usize;
    for _ in 0..samples {
        let search = filter.search(rng, orders);
        let t = Instant::now();
        let page = store.search_log(&search).await?;
        latencies.push(t.elapsed());
        check(&search, &page)?;
        anyhow::ensure!(!page.is_empty(), "nothing found: {search:?}");
        if let Some(stream) = &search.stream {
            // A fill order: 7 events, nothing else appended to it.
            anyhow::ensure!(
                page.len() == 7 && page.iter().all(|e| &e.stream_id == stream),
                "stream {stream}: {} events on the page, not its 7",
                page.len()
            );
        }
        rows += page.len();
    }
    Ok(SearchProbe {
        filter: filter.label(),
        latency: Percentiles::of(&mut latencies),
        rows_per_page: rows as f64 / samples.max(1) as f64,
    })
}

/// The database under test.
struct Target<'a> {
    backend: Backend,
    store: &'a Arc<SqlEventStore>,
    db: &'a Db,
    /// The SQLite file (none on PostgreSQL).
    sqlite: Option<&'a Path>,
}

/// Every probe, once, on the log as it is.
async fn probe(
    plan: &Plan,
    target: &Target<'_>,
    checkpoint: String,
    orders: &[String],
    rng: &mut StdRng,
) -> anyhow::Result<Probe> {
    let (backend, store) = (target.backend, target.store);
    let head_before = store.head_position().await?;
    eprintln!("growth: {backend}, probing {checkpoint} (head {head_before})");
    let window = Duration::from_secs_f64(plan.growth_append_secs);
    let mut appends = Vec::new();
    for workload in APPEND_WORKLOADS {
        let appender = Arc::new(Repricing(Ours {
            store: (**store).clone(),
        }));
        // `drive` names new streams on every call.
        let measured = drive(appender, workload, window).await?;
        eprintln!(
            "growth: {backend}, {checkpoint}, {} writer(s): {} appends/s, p99 {} ms",
            workload.writers,
            thousands(measured.per_sec),
            ms(measured.latency.p99_ms)
        );
        appends.push(AppendProbe { workload, measured });
    }
    let product = crate::load::fill(store, LOAD_EVENTS).await?;
    // No snapshot of this schema version exists: every event is read.
    let load = crate::load::measure(
        store,
        product,
        Product::SNAPSHOT_VERSION + 1000,
        plan.growth_samples,
    )
    .await?;
    let mut searches = Vec::new();
    for filter in FILTERS {
        searches.push(search(store, orders, filter, plan.growth_samples, rng).await?);
    }
    let head_after = store.head_position().await?;
    let db_bytes = db_size(target.db, target.sqlite).await?;
    Ok(Probe {
        checkpoint,
        head_before,
        head_after,
        appends,
        load,
        searches,
        db_bytes,
    })
}

/// Appends orders until the log holds `target` events; (events appended, seconds, head).
async fn grow(
    backend: Backend,
    store: &SqlEventStore,
    fill: &mut Fill,
    target: i64,
) -> anyhow::Result<(i64, f64, i64)> {
    let first = store.head_position().await?;
    let mut head = first;
    let t = Instant::now();
    while head < target {
        let next = ((head / PROGRESS_EVERY + 1) * PROGRESS_EVERY).min(target);
        head = fill.orders_until(store, next).await?;
        let seconds = t.elapsed().as_secs_f64();
        eprintln!(
            "growth: {backend}, filled to {} events, {} events/s so far",
            thousands(head as f64),
            thousands((head - first) as f64 / seconds.max(1e-9))
        );
    }
    Ok((head - first, t.elapsed().as_secs_f64(), head))
}

/// Every table of the projections' state: the read models (`rm_*`), their checkpoints, live
/// generations and dead letters.
async fn projection_tables(db: &Db) -> anyhow::Result<Vec<String>> {
    let catalog = match db.backend() {
        Backend::Sqlite => {
            "select name from sqlite_master where type = 'table' and name like 'rm%'"
        }
        Backend::Postgres => {
            "select tablename::text from pg_tables where schemaname = current_schema() \
             and tablename like 'rm%'"
        }
    };
    let mut tables: Vec<String> = sqlx::query_scalar(catalog).fetch_all(db.pool()).await?;
    tables.retain(|t| t.starts_with("rm_"));
    tables.extend(["checkpoints", "projections", "projection_dead_letters"].map(str::to_owned));
    Ok(tables)
}

/// Empties the projections' state, so the next runner starts every read model from 0 on empty
/// tables, as on a fresh database (what the first rebuild had).
async fn reset_projections(db: &Db) -> anyhow::Result<()> {
    for table in projection_tables(db).await? {
        sqlx::query(&format!("delete from {table}"))
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

/// Fills to `target`, then a fresh runner catches every read model up from position 0 on empty
/// read models (timed: the rebuild); the runner is shut down before returning.
async fn stage(
    backend: Backend,
    target_db: &Target<'_>,
    fill: &mut Fill,
    target: i64,
) -> anyhow::Result<(Stage, Vec<&'static str>)> {
    let store = target_db.store;
    eprintln!(
        "growth: {backend}, filling to {} events",
        thousands(target as f64)
    );
    let (fill_events, fill_seconds, head) = grow(backend, store, fill, target).await?;
    reset_projections(target_db.db).await?;
    eprintln!(
        "growth: {backend}, rebuilding the read models from 0 ({} events)",
        thousands(head as f64)
    );
    let t = Instant::now();
    let runner = start_runner(store).await?;
    let result = async {
        caught_up(&runner, head, PROJECTION_TIMEOUT).await?;
        let rebuild_seconds = t.elapsed().as_secs_f64();
        eprintln!(
            "growth: {backend}, rebuilt in {rebuild_seconds:.1} s ({} events/s)",
            thousands(head as f64 / rebuild_seconds.max(1e-9))
        );
        anyhow::Ok(Stage {
            target,
            head,
            fill_events,
            fill_seconds,
            rebuild_events: head,
            rebuild_seconds,
        })
    }
    .await;
    let names = runner.names();
    runner.shutdown().await;
    Ok((result?, names))
}

async fn measure(plan: &Plan, target: &Target<'_>) -> anyhow::Result<Row> {
    let (backend, store) = (target.backend, target.store);
    let mut rng = StdRng::seed_from_u64(10_000);
    eprintln!(
        "growth: {backend}, seeding {} events",
        thousands(SEED_EVENTS as f64)
    );
    let mut fill = Fill::start(store).await?;
    fill.orders_until(store, SEED_EVENTS).await?;
    let mut probes = vec![
        probe(
            plan,
            target,
            format!("empty ({} events)", short(SEED_EVENTS)),
            &fill.order_streams,
            &mut rng,
        )
        .await?,
    ];
    let mut stages = Vec::new();
    let mut projections = Vec::new();
    for events in [plan.growth_mid, plan.growth_events] {
        let (stage, names) = stage(backend, target, &mut fill, events).await?;
        projections = names;
        stages.push(stage);
        probes.push(
            probe(
                plan,
                target,
                format!("at {}", short(events)),
                &fill.order_streams,
                &mut rng,
            )
            .await?,
        );
    }
    Ok(Row {
        backend: backend.to_string(),
        probes,
        stages,
        projections,
    })
}

/// One backend on one fresh database, dropped afterwards whatever happened.
async fn run_backend(plan: &Plan, backend: Backend, pg: &PgAdmin) -> anyhow::Result<Row> {
    let fresh = pg.fresh_db(backend, "growth").await?;
    let result = on_fresh(plan, backend, &fresh).await;
    fresh.cleanup().await;
    result
}

async fn on_fresh(plan: &Plan, backend: Backend, fresh: &FreshDb) -> anyhow::Result<Row> {
    let db = fresh
        .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
        .await?;
    let store = match SqlEventStore::open(db.clone(), orders::command::upcaster_registry()).await {
        Ok(store) => Arc::new(store),
        Err(e) => {
            db.close().await;
            return Err(e.into());
        }
    };
    let sqlite = (backend == Backend::Sqlite).then(|| {
        PathBuf::from(
            fresh
                .url()
                .strip_prefix("sqlite://")
                .unwrap_or_else(|| fresh.url()),
        )
    });
    let target = Target {
        backend,
        store: &store,
        db: &db,
        sqlite: sqlite.as_deref(),
    };
    let result = measure(plan, &target).await;
    store.shutdown().await;
    db.close().await;
    result
}

/// How a metric's values are shown and whether the 20% rule applies to it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rate,
    P50,
    P99,
    Count,
}

/// The metrics of one probe, in table order: (probe, metric, kind, value).
fn metrics(p: &Probe) -> Vec<(String, &'static str, Kind, f64)> {
    let mut out = Vec::new();
    for a in &p.appends {
        let name = format!(
            "appends, {} writer{}",
            a.workload.writers,
            if a.workload.writers == 1 { "" } else { "s" }
        );
        out.push((name.clone(), "appends/s", Kind::Rate, a.measured.per_sec));
        out.push((name.clone(), "p50 ms", Kind::P50, a.measured.latency.p50_ms));
        out.push((name.clone(), "p99 ms", Kind::P99, a.measured.latency.p99_ms));
        out.push((name, "errors", Kind::Count, a.measured.errors as f64));
    }
    let load = format!("aggregate load ({LOAD_EVENTS} events, no snapshot)");
    out.push((load.clone(), "p50 ms", Kind::P50, p.load.p50_ms));
    out.push((load, "p99 ms", Kind::P99, p.load.p99_ms));
    for s in &p.searches {
        out.push((s.filter.to_owned(), "p50 ms", Kind::P50, s.latency.p50_ms));
        out.push((s.filter.to_owned(), "p99 ms", Kind::P99, s.latency.p99_ms));
    }
    out
}

fn shown(kind: Kind, x: f64) -> String {
    match kind {
        Kind::Rate | Kind::Count => thousands(x),
        Kind::P50 | Kind::P99 => ms(x),
    }
}

fn within(first: f64, last: f64) -> bool {
    first > 0.0 && (last / first - 1.0).abs() <= TOLERANCE
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let load_before = crate::stock::load_average();
    let mut rows = Vec::new();
    for &backend in backends {
        rows.push(run_backend(plan, backend, pg).await?);
    }
    let load_after = crate::stock::load_average();

    let (mid, full) = (short(plan.growth_mid), short(plan.growth_events));
    let empty = format!("empty ({} events)", short(SEED_EVENTS));
    let at_mid = format!("at {mid}");
    let at_full = format!("at {full}");
    let vs_empty = format!("{full} / empty");
    let mut probes = Table::new(
        &format!("Probes on a growing log: empty, {mid} and {full} events"),
        &[
            "backend",
            "probe",
            "metric",
            &empty,
            &at_mid,
            &at_full,
            &vs_empty,
            "within 20%",
        ],
    );
    let mut misses = Vec::new();
    for r in &rows {
        let per_probe: Vec<_> = r.probes.iter().map(metrics).collect();
        let Some(first) = per_probe.first() else {
            continue;
        };
        for (i, (name, metric, kind, value)) in first.iter().enumerate() {
            let values: Vec<f64> = per_probe
                .iter()
                .filter_map(|m| m.get(i).map(|x| x.3))
                .collect();
            let last = values.last().copied();
            let compared = matches!(kind, Kind::Rate | Kind::P99);
            let verdict = match last {
                Some(last) if compared => {
                    let ok = within(*value, last);
                    if !ok {
                        misses.push(format!(
                            "{} / {name} / {metric} ({})",
                            r.backend,
                            ratio(Some(last), Some(*value))
                        ));
                    }
                    if ok { "yes" } else { "no" }.to_owned()
                }
                _ => "–".to_owned(),
            };
            let mut cells = vec![r.backend.clone(), name.clone(), (*metric).to_owned()];
            cells
                .extend((0..3).map(|k| values.get(k).map_or("–".to_owned(), |x| shown(*kind, *x))));
            cells.push(if *kind == Kind::Count {
                "–".to_owned()
            } else {
                ratio(last, Some(*value))
            });
            cells.push(verdict);
            probes.row(cells);
        }
    }

    let ev_mid = format!("events ({mid})");
    let s_mid = format!("s ({mid})");
    let rate_mid = format!("events/s ({mid})");
    let ev_full = format!("events ({full})");
    let s_full = format!("s ({full})");
    let rate_full = format!("events/s ({full})");
    let vs_mid = format!("{full} / {mid} events/s");
    let mut stages = Table::new(
        &format!("Fill and rebuild at {mid} and {full} events"),
        &[
            "backend", "step", &ev_mid, &s_mid, &rate_mid, &ev_full, &s_full, &rate_full, &vs_mid,
        ],
    );
    for r in &rows {
        for (i, step) in STEPS.iter().enumerate() {
            let mut cells = vec![r.backend.clone(), (*step).to_owned()];
            let mut rates = Vec::new();
            for k in 0..2 {
                match r.stages.get(k).map(|s| s.steps()[i]) {
                    Some((events, seconds)) => {
                        let rate = events as f64 / seconds.max(1e-9);
                        rates.push(rate);
                        cells.push(thousands(events as f64));
                        cells.push(format!("{seconds:.1}"));
                        cells.push(thousands(rate));
                    }
                    None => cells.extend(["–".to_owned(), "–".to_owned(), "–".to_owned()]),
                }
            }
            cells.push(ratio(rates.get(1).copied(), rates.first().copied()));
            stages.row(cells);
        }
    }

    let mut notes = vec![
        format!(
            "One fresh database per backend, grown in place. Checkpoints: \"empty\" = a seed of \
             {} events written by the rebuild scenario's fill (200 customers, 50 products, then \
             orders of 7 events) so that every search filter finds something; then the same fill \
             on to {} and {} events (orders appended one per append, {IN_FLIGHT} in flight). The \
             log also holds what earlier probes wrote (a few thousand events per probe).",
            thousands(SEED_EVENTS as f64),
            thousands(plan.growth_mid as f64),
            thousands(plan.growth_events as f64)
        ),
        format!(
            "Probes (the same code at every checkpoint, no projection runner running): appends \
             through the store's `append` (`Ours`, one `ProductRepriced` per append at its exact \
             version, fresh streams per probe) with 1 writer and with 16 writers on their own \
             streams, {} s each; an aggregate load (`load_aggregate`, no snapshot) of a Product \
             stream of {LOAD_EVENTS} events the probe creates, {} loads; `search_log` pages of \
             {LIMIT}, {WARM_UP} untimed then {} timed queries per filter: none (newest first), an \
             order event type (random of {}), a stream type (random of order, customer, \
             product), the exact id of an order stream of the fill (random of one in 1,000), \
             every page checked against its filter and order (a stream page must hold that \
             order's 7 events).",
            plan.growth_append_secs,
            plan.growth_samples,
            plan.growth_samples,
            ORDER_EVENT_TYPES.join(", ")
        ),
        format!(
            "Rebuild: after each fill the projections' state is emptied (every `rm_*` table, \
             `checkpoints`, `projections`, `projection_dead_letters`; nothing to empty at {mid}) \
             and a fresh `ProjectionRunner` with every read model ({}) and the default config \
             catches them up from position 0, as on a fresh database (the rebuild scenario's \
             method); timed from its start until every projection reached the head. The runner \
             is shut down before the probes.",
            rows.first()
                .map(|r| r.projections.join(", "))
                .unwrap_or_default()
        ),
        format!(
            "within 20%: appends/s and p99 rows, `|{full} / empty - 1| <= 0.2`; p50 and errors \
             are shown, not judged."
        ),
    ];
    if plan.growth_samples < 100 {
        notes.push(format!(
            "With {} loads or searches per probe the p99 is their largest sample (and the append \
             windows are {} s): in this mode the within-20% column is mostly noise.",
            plan.growth_samples, plan.growth_append_secs
        ));
    }
    for r in &rows {
        let heads: Vec<String> = r
            .probes
            .iter()
            .map(|p| {
                format!(
                    "{} {} → {} events, database {}",
                    p.checkpoint,
                    thousands(p.head_before as f64),
                    thousands(p.head_after as f64),
                    size(p.db_bytes)
                )
            })
            .collect();
        let what = if r.backend == Backend::Sqlite.to_string() {
            "file + WAL"
        } else {
            "`pg_database_size`"
        };
        notes.push(format!(
            "{}: log head before → after each probe, and the database size after it ({what}): {}.",
            r.backend,
            heads.join("; ")
        ));
        for p in &r.probes {
            for a in &p.appends {
                if let Some(e) = &a.measured.first_error {
                    notes.push(format!(
                        "{} {} ({} writers): {} errors, the first: {e}",
                        r.backend, p.checkpoint, a.workload.writers, a.measured.errors
                    ));
                }
            }
        }
    }
    notes.push(if misses.is_empty() {
        "Outside 20%: none.".to_owned()
    } else {
        format!("Outside 20%: {}.", misses.join("; "))
    });
    notes.push(
        "What limits it: every probe is a point look-up or one index range cut after a page, and \
         the rebuild reads the log in position order and writes each read model's rows once per \
         batch (scenario 4), so none of them should depend on the log's size; a ratio far from \
         1.0x is a finding, not noise."
            .to_owned(),
    );
    notes.push(format!(
        "1-minute load average of the machine before / after this section: {} / {} (2 cores; \
         anything else running skews these figures).",
        load_before.as_deref().unwrap_or("n/a"),
        load_after.as_deref().unwrap_or("n/a")
    ));
    Ok(Section {
        id: "growth",
        title: "10. Growth: probes and rebuild on an empty and a large log".to_owned(),
        tables: vec![probes, stages],
        notes,
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "rows": rows }),
    })
}
