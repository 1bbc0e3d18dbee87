//! Scenario 8: the operator console's event browser. A log of order, customer and product
//! events (about 10 per stream, ~12 event types, 200 acting users, correlation ids shared by the
//! events of one append) is appended in bulk through the store; then one page (50 events) of
//! `SqlEventStore::search_log` is timed per filter kind with random parameters, one query at a
//! time.

use std::time::{Duration, Instant};

use eventstore::{
    Backend, EventMetadata, EventStore as _, ExpectedVersion, LogSearch, NewEvent, SqlEventStore,
};
use futures::StreamExt as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::json;
use uuid::Uuid;

use crate::Plan;
use crate::report::{Section, Table};
use crate::support::{Percentiles, PgAdmin, ms, thousands};

/// Acting users (`metadata.user_id`): `user-000` .. `user-199`.
const USERS: usize = 200;
/// A new stream is opened by this share of the appends (the others go to an existing stream,
/// 1–3 events each): about 10 events per stream on average.
const NEW_STREAM: f64 = 0.2;
/// Appends in flight while filling (the store's writer batches them).
const IN_FLIGHT: usize = 512;
/// Events per page, as the console asks.
pub const LIMIT: u32 = 50;
/// After the fill, `recorded_at_us` is rewritten to one event every this many µs on average.
const STAMP_STEP_US: i64 = 200_000;
/// Width of the time-range window.
const WINDOW_US: i64 = 60_000_000;

const ORDER_TYPES: [&str; 7] = [
    "ItemAdded",
    "ItemAdded",
    "ItemRemoved",
    "OrderConfirmed",
    "OrderShipped",
    "OrderDelivered",
    "OrderCancelled",
];
const CUSTOMER_TYPES: [&str; 2] = ["CustomerEmailChanged", "CustomerRenamed"];
const PRODUCT_TYPES: [&str; 3] = ["ProductRepriced", "StockAdjusted", "StockAdjusted"];
/// Every event type of the log (what the event-type filters pick from).
const EVENT_TYPES: [&str; 12] = [
    "OrderPlaced",
    "ItemAdded",
    "ItemRemoved",
    "OrderConfirmed",
    "OrderShipped",
    "OrderDelivered",
    "OrderCancelled",
    "CustomerRegistered",
    "CustomerEmailChanged",
    "CustomerRenamed",
    "ProductCreated",
    "ProductRepriced",
];
const STREAM_TYPES: [&str; 3] = ["order", "customer", "product"];

fn user(n: usize) -> String {
    format!("user-{n:03}")
}

/// The fill's appends, generated lazily from a seeded RNG.
struct Generator {
    rng: StdRng,
    target: i64,
    emitted: i64,
    /// (stream id, stream type) of every stream opened so far.
    streams: Vec<(String, &'static str)>,
    /// A sample of the correlation ids used (about 2%), for the correlation filter.
    correlations: Vec<Uuid>,
}

impl Generator {
    fn new(target: i64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(8_000),
            target,
            emitted: 0,
            streams: Vec::new(),
            correlations: Vec::new(),
        }
    }

    /// The next append: (stream id, stream type, events), or `None` once `target` is reached.
    fn next_append(&mut self) -> Option<(String, &'static str, Vec<NewEvent>)> {
        if self.emitted >= self.target {
            return None;
        }
        let rng = &mut self.rng;
        let (stream, stream_type, mut types) =
            if self.streams.is_empty() || rng.random_bool(NEW_STREAM) {
                let (stream_type, created) = match rng.random_range(0..10) {
                    0..6 => ("order", "OrderPlaced"),
                    6..8 => ("customer", "CustomerRegistered"),
                    _ => ("product", "ProductCreated"),
                };
                let id = format!("{stream_type}-{}", Uuid::now_v7());
                self.streams.push((id.clone(), stream_type));
                (id, stream_type, vec![created])
            } else {
                let (id, t) = &self.streams[rng.random_range(0..self.streams.len())];
                (id.clone(), *t, Vec::new())
            };
        let more = if types.is_empty() {
            rng.random_range(1..=3)
        } else {
            rng.random_range(0..=2)
        };
        let pool: &[&'static str] = match stream_type {
            "order" => &ORDER_TYPES,
            "customer" => &CUSTOMER_TYPES,
            _ => &PRODUCT_TYPES,
        };
        for _ in 0..more {
            types.push(pool[rng.random_range(0..pool.len())]);
        }
        let correlation = Uuid::now_v7();
        if rng.random_bool(0.02) {
            self.correlations.push(correlation);
        }
        let metadata = EventMetadata {
            correlation_id: Some(correlation),
            causation_id: Some(Uuid::now_v7()),
            user_id: Some(user(rng.random_range(0..USERS))),
            extra: serde_json::Map::new(),
        };
        let events: Vec<NewEvent> = types
            .iter()
            .map(|t| {
                let n = self.emitted;
                self.emitted += 1;
                NewEvent::new(
                    *t,
                    1,
                    json!({ "n": n, "amount": 100 + n % 9_900, "note": "bench" }),
                    metadata.clone(),
                )
            })
            .collect();
        Some((stream, stream_type, events))
    }
}

/// What the queries pick their parameters from.
struct Log {
    head: i64,
    streams: Vec<String>,
    correlations: Vec<Uuid>,
    /// `recorded_at_us` of the first and last event (after the re-stamping).
    first_us: i64,
    last_us: i64,
}

/// Fills the log through `append` (any expected version, `IN_FLIGHT` in flight).
async fn fill(store: &SqlEventStore, target: i64) -> anyhow::Result<(i64, Generator)> {
    let mut generator = Generator::new(target);
    {
        let appends = futures::stream::iter(std::iter::from_fn(|| generator.next_append()))
            .map(|(stream, stream_type, events)| {
                let store = store.clone();
                async move {
                    store
                        .append(&stream, stream_type, ExpectedVersion::Any, events)
                        .await?;
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(IN_FLIGHT);
        futures::pin_mut!(appends);
        while let Some(r) = appends.next().await {
            r?;
        }
    }
    Ok((store.head_position().await?, generator))
}

/// `recorded_at_us` of the oldest and newest event, through the API under test.
async fn time_span(store: &SqlEventStore) -> anyhow::Result<(i64, i64)> {
    let ends = |oldest_first| LogSearch {
        oldest_first,
        limit: 1,
        ..LogSearch::default()
    };
    let first = store.search_log(&ends(true)).await?;
    let last = store.search_log(&ends(false)).await?;
    match (first.first(), last.first()) {
        (Some(a), Some(b)) => Ok((
            a.recorded_at.timestamp_micros(),
            b.recorded_at.timestamp_micros(),
        )),
        _ => anyhow::bail!("the log is empty"),
    }
}

/// Spreads the log over time: event `p` recorded at `start + p * STAMP_STEP_US` plus a jitter
/// below one step (still rising with the position), the last one about now.
async fn restamp(db: &eventstore::Db, head: i64) -> anyhow::Result<(i64, i64)> {
    let start = chrono::Utc::now().timestamp_micros() - (head + 1) * STAMP_STEP_US;
    let statement = format!(
        "update events set recorded_at_us = {start} + position * {STAMP_STEP_US} \
         + (position * 7919) % {STAMP_STEP_US}"
    );
    if db.backend() == Backend::Postgres {
        // One connection of its own, without the store's 10 s statement timeout, closed after.
        let mut conn = db.pool().acquire().await?.detach();
        sqlx::query("set statement_timeout = 0")
            .execute(&mut conn)
            .await?;
        sqlx::query(&statement).execute(&mut conn).await?;
        // What autovacuum would have done by then: drop the dead row versions, fresh statistics.
        sqlx::query("vacuum analyze events")
            .execute(&mut conn)
            .await?;
        sqlx::Connection::close(conn).await?;
    } else {
        sqlx::query(&statement).execute(db.pool()).await?;
    }
    Ok((start + STAMP_STEP_US, start + head * STAMP_STEP_US))
}

fn micros(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// The filter kinds measured.
#[derive(Debug, Clone, Copy)]
enum Case {
    NoFilter,
    EventType,
    StreamType,
    StreamId,
    ShortId,
    User,
    Correlation,
    TimeRange,
    EventTypeAndUser,
    SecondPage,
    UserOldestFirst,
}

const CASES: [Case; 11] = [
    Case::NoFilter,
    Case::EventType,
    Case::StreamType,
    Case::StreamId,
    Case::ShortId,
    Case::User,
    Case::Correlation,
    Case::TimeRange,
    Case::EventTypeAndUser,
    Case::SecondPage,
    Case::UserOldestFirst,
];

impl Case {
    fn label(self) -> &'static str {
        match self {
            Case::NoFilter => "no filter (newest first)",
            Case::EventType => "event type",
            Case::StreamType => "stream type",
            Case::StreamId => "stream id (exact, as a prefix)",
            Case::ShortId => "short id (last 8 hex chars)",
            Case::User => "user",
            Case::Correlation => "correlation id",
            Case::TimeRange => "time range (1-minute window, middle of the log)",
            Case::EventTypeAndUser => "event type + user",
            Case::SecondPage => "event type, second page (`after`)",
            Case::UserOldestFirst => "user, oldest first",
        }
    }

    /// A random search of this kind.
    fn search(self, rng: &mut StdRng, log: &Log) -> LogSearch {
        let base = LogSearch {
            limit: LIMIT,
            ..LogSearch::default()
        };
        let event_type =
            |rng: &mut StdRng| Some(EVENT_TYPES[rng.random_range(0..EVENT_TYPES.len())].to_owned());
        let user_id = |rng: &mut StdRng| Some(user(rng.random_range(0..USERS)));
        let stream = |rng: &mut StdRng| log.streams[rng.random_range(0..log.streams.len())].clone();
        match self {
            Case::NoFilter => base,
            Case::EventType | Case::SecondPage => LogSearch {
                event_type: event_type(rng),
                ..base
            },
            Case::StreamType => LogSearch {
                stream_type: Some(STREAM_TYPES[rng.random_range(0..STREAM_TYPES.len())].to_owned()),
                ..base
            },
            Case::StreamId => LogSearch {
                stream: Some(stream(rng)),
                ..base
            },
            Case::ShortId => {
                let id = stream(rng);
                LogSearch {
                    stream: Some(id[id.len() - 8..].to_owned()),
                    ..base
                }
            }
            Case::User => LogSearch {
                user_id: user_id(rng),
                ..base
            },
            Case::Correlation => LogSearch {
                correlation_id: Some(log.correlations[rng.random_range(0..log.correlations.len())]),
                ..base
            },
            Case::TimeRange => {
                let span = log.last_us - log.first_us;
                let from = log.first_us + span / 4 + rng.random_range(0..(span / 2).max(1));
                LogSearch {
                    from: Some(micros(from)),
                    to: Some(micros(from + WINDOW_US)),
                    ..base
                }
            }
            Case::EventTypeAndUser => LogSearch {
                event_type: event_type(rng),
                user_id: user_id(rng),
                ..base
            },
            Case::UserOldestFirst => LogSearch {
                user_id: user_id(rng),
                oldest_first: true,
                ..base
            },
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
struct Measured {
    case: &'static str,
    latency: Percentiles,
    per_sec: f64,
    /// Mean events per page (50 unless the filter matches fewer).
    rows_per_page: f64,
}

/// `queries` timed searches of `case`, one at a time.
async fn measure(
    store: &SqlEventStore,
    log: &Log,
    case: Case,
    queries: usize,
    rng: &mut StdRng,
) -> anyhow::Result<Measured> {
    let mut samples = Vec::with_capacity(queries);
    let mut rows = 0_usize;
    let mut busy = Duration::ZERO;
    for _ in 0..queries {
        let mut search = case.search(rng, log);
        if matches!(case, Case::SecondPage) {
            let first = store.search_log(&search).await?;
            search.after = Some(first.last().map_or(log.head + 1, |e| e.position));
        }
        let t = Instant::now();
        let page = store.search_log(&search).await?;
        let took = t.elapsed();
        check(&search, &page)?;
        busy += took;
        samples.push(took);
        rows += page.len();
    }
    Ok(Measured {
        case: case.label(),
        latency: Percentiles::of(&mut samples),
        per_sec: queries as f64 / busy.as_secs_f64(),
        rows_per_page: rows as f64 / queries as f64,
    })
}

/// The page holds what was asked, in the asked order.
pub fn check(search: &LogSearch, page: &[eventstore::RecordedEvent]) -> anyhow::Result<()> {
    anyhow::ensure!(page.len() <= LIMIT as usize, "more than a page");
    for w in page.windows(2) {
        let rising = w[0].position < w[1].position;
        anyhow::ensure!(
            rising == search.oldest_first,
            "page out of order: {search:?}"
        );
    }
    for e in page {
        let ok = search
            .event_type
            .as_ref()
            .is_none_or(|t| &e.event_type == t)
            && search
                .stream_type
                .as_ref()
                .is_none_or(|t| &e.stream_type == t)
            && search
                .user_id
                .as_ref()
                .is_none_or(|u| e.metadata.user_id.as_ref() == Some(u))
            && search
                .correlation_id
                .is_none_or(|c| e.metadata.correlation_id == Some(c))
            && search.from.is_none_or(|f| e.recorded_at >= f)
            && search.to.is_none_or(|t| e.recorded_at < t)
            && search.after.is_none_or(|a| e.position < a);
        anyhow::ensure!(ok, "event {} does not match {search:?}", e.position);
    }
    Ok(())
}

#[derive(Debug, serde::Serialize)]
struct Row {
    backend: String,
    events: i64,
    streams: usize,
    fill_seconds: f64,
    restamp_seconds: f64,
    /// A 1-second window in the middle of the log as the fill stamped it (before re-stamping).
    burst_window: Measured,
    cases: Vec<Measured>,
}

async fn run_backend(plan: &Plan, backend: Backend, pg: &PgAdmin) -> anyhow::Result<Row> {
    eprintln!(
        "event_search: {backend}, filling {} events",
        plan.search_events
    );
    let fresh = pg.fresh_db(backend, "search").await?;
    let db = fresh
        .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
        .await?;
    let store = SqlEventStore::open(db.clone(), orders::command::upcaster_registry()).await?;
    let result = async {
        let t = Instant::now();
        let (head, generator) = fill(&store, plan.search_events).await?;
        let fill_seconds = t.elapsed().as_secs_f64();
        let streams: Vec<String> = generator.streams.into_iter().map(|(id, _)| id).collect();
        eprintln!(
            "event_search: {backend}, {head} events on {} streams in {fill_seconds:.1} s",
            streams.len()
        );
        let mut rng = StdRng::seed_from_u64(8_001);
        let (burst_first, burst_last) = time_span(&store).await?;
        let burst_window = {
            // The same time-range query on the fill's own stamps, with a 1 s window.
            let mut samples = Vec::new();
            let mut rows = 0;
            let mut busy = Duration::ZERO;
            let span = burst_last - burst_first;
            for _ in 0..plan.search_burst_queries {
                let from = burst_first + span / 4 + rng.random_range(0..(span / 2).max(1));
                let search = LogSearch {
                    from: Some(micros(from)),
                    to: Some(micros(from + 1_000_000)),
                    limit: LIMIT,
                    ..LogSearch::default()
                };
                let t = Instant::now();
                let page = store.search_log(&search).await?;
                let took = t.elapsed();
                check(&search, &page)?;
                busy += took;
                samples.push(took);
                rows += page.len();
            }
            Measured {
                case: "time range, 1 s window, as stamped by the fill",
                latency: Percentiles::of(&mut samples),
                per_sec: plan.search_burst_queries as f64 / busy.as_secs_f64(),
                rows_per_page: rows as f64 / plan.search_burst_queries as f64,
            }
        };
        let t = Instant::now();
        let (first_us, last_us) = restamp(&db, head).await?;
        let restamp_seconds = t.elapsed().as_secs_f64();
        eprintln!("event_search: {backend}, re-stamped in {restamp_seconds:.1} s; searching");
        let log = Log {
            head,
            streams,
            correlations: generator.correlations,
            first_us,
            last_us,
        };
        let mut cases = Vec::new();
        for case in CASES {
            // A few untimed queries first (cold pages of that index).
            for _ in 0..5 {
                store.search_log(&case.search(&mut rng, &log)).await?;
            }
            let m = measure(&store, &log, case, plan.search_queries, &mut rng).await?;
            eprintln!(
                "event_search: {backend}, {}: p50 {} ms, p99 {} ms",
                m.case,
                ms(m.latency.p50_ms),
                ms(m.latency.p99_ms)
            );
            cases.push(m);
        }
        anyhow::Ok(Row {
            backend: backend.to_string(),
            events: head,
            streams: log.streams.len(),
            fill_seconds,
            restamp_seconds,
            burst_window,
            cases,
        })
    }
    .await;
    store.shutdown().await;
    db.close().await;
    if std::env::var_os("EVENT_SEARCH_KEEP_DB").is_some() {
        // For EXPLAIN by hand afterwards: the database stays (drop it yourself).
        eprintln!("event_search: {backend}, database kept at {}", fresh.url());
    } else {
        fresh.cleanup().await;
    }
    result
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let load_before = crate::stock::load_average();
    let mut rows = Vec::new();
    for &backend in backends {
        rows.push(run_backend(plan, backend, pg).await?);
    }
    let load_after = crate::stock::load_average();
    let events = rows.first().map_or(plan.search_events, |r| r.events);
    let mut table = Table::new(
        &format!(
            "`search_log`, one page of {LIMIT}, {} events in the log, one query at a time",
            thousands(events as f64)
        ),
        &[
            "backend",
            "filter",
            "queries",
            "p50 ms",
            "p99 ms",
            "max ms",
            "queries/s",
            "events/page",
        ],
    );
    let mut slow = Vec::new();
    for r in &rows {
        for m in r.cases.iter().chain(std::iter::once(&r.burst_window)) {
            table.row(vec![
                r.backend.clone(),
                m.case.to_owned(),
                m.latency.count.to_string(),
                ms(m.latency.p50_ms),
                ms(m.latency.p99_ms),
                ms(m.latency.max_ms),
                thousands(m.per_sec),
                format!("{:.1}", m.rows_per_page),
            ]);
            if m.latency.p99_ms >= 100.0 {
                slow.push(format!(
                    "{} / {} (p99 {} ms)",
                    r.backend,
                    m.case,
                    ms(m.latency.p99_ms)
                ));
            }
        }
    }
    let mut notes = Vec::new();
    for r in &rows {
        notes.push(format!(
            "{}: {} events on {} streams appended in {:.1} s ({} events/s, {IN_FLIGHT} appends of \
             1–3 events in flight); re-stamping `recorded_at_us` took {:.1} s.",
            r.backend,
            thousands(r.events as f64),
            thousands(r.streams as f64),
            r.fill_seconds,
            thousands(r.events as f64 / r.fill_seconds),
            r.restamp_seconds
        ));
    }
    notes.push(format!(
        "Log: streams of type order (60%), customer (20%), product (20%), opened by one append in \
         five (the others add 1–3 events to a random existing stream, so a stream's events are \
         spread over the log), 12 event types, `user_id` uniform over {USERS} users, one \
         correlation id per append (1–3 events). The fill takes a minute or two, so the store's \
         own stamps put the whole log inside about one 1-minute window: after the fill `recorded_at_us` is \
         rewritten to one event every {} ms on average, rising with the position (the log spans \
         {:.1} h, ~{} events per minute); on PostgreSQL followed by `vacuum analyze events` (what \
         autovacuum would have done). SQLite gets no `analyze` (the store never runs one). The last \
         row per backend runs the time-range query on the fill's own stamps (a 1 s window in the \
         middle, before the re-stamping) instead.",
        STAMP_STEP_US / 1000,
        events as f64 * STAMP_STEP_US as f64 / 3.6e9,
        60_000_000 / STAMP_STEP_US
    ));
    notes.push(format!(
        "Each filter: 5 untimed queries, then {} timed ones with random parameters (a random \
         event type, stream type, user, stream of the log, correlation id of the log, window \
         start in the middle half of the log), newest first unless said; the second page is timed \
         alone, its `after` being the last position of the (untimed) first page; every page is \
         checked against its filter and order. queries/s = queries / time spent in them.",
        plan.search_queries
    ));
    notes.push(if slow.is_empty() {
        "Slow filters (p99 >= 100 ms): none.".to_owned()
    } else {
        format!("Slow filters (p99 >= 100 ms): {}.", slow.join("; "))
    });
    notes.push(WHAT_LIMITS.to_owned());
    notes.push(format!(
        "1-minute load average of the machine before / after this section: {} / {} (2 cores; \
         anything else running skews these figures).",
        load_before.as_deref().unwrap_or("n/a"),
        load_after.as_deref().unwrap_or("n/a")
    ));
    Ok(Section {
        id: "event_search",
        title: "8. Event browser: search latency".to_owned(),
        tables: vec![table],
        notes,
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "rows": rows }),
    })
}

const WHAT_LIMITS: &str = "What limits it: a page is one index range walked in position order and \
     cut after 50 rows, so most filters cost about the round trip and the decoding of 50 rows, \
     whatever the log's size; event type + user walks one of the two indexes and filters on the \
     other. A stream filter first resolves the text on the `streams` table (a range of its \
     primary key bounded at both ends, or `streams_short_id_idx` for a short id), then reads \
     those streams' events through `(stream_id, version)` and sorts them. A time range on a \
     burst (the fill's own stamps, ~10,000 events/s) reads every event inside the 2 s clock \
     slack of its position bounds and drops those outside the window.";
