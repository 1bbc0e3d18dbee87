//! Scenarios 1 and 2: appends per second, one event per append, through Eventide's store, the
//! seed design, postgres-es and plain inserts, with the same writers and durability.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use eventstore::{
    Backend, EventMetadata, EventStore as _, ExpectedVersion, NewEvent, SqlEventStore, StoreError,
    UpcasterRegistry,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::Plan;
use crate::report::{Section, Table};
use crate::support::{Percentiles, PgAdmin, ms, ratio, thousands};
use crate::{postgres_es, raw_limit, seed_design};

/// What one append attempt did.
pub enum Attempt {
    Appended,
    /// The stream was not at the expected version (re-read and retry).
    Conflict,
}

/// One way of appending one event to a stream at an expected version.
#[async_trait]
pub trait Appender: Send + Sync + 'static {
    /// Appends one event as version `expected + 1` of `stream`.
    async fn append(
        &self,
        stream: &str,
        expected: i64,
        payload: &Payload,
    ) -> anyhow::Result<Attempt>;
    /// The stream's current version (0 when it does not exist).
    async fn version(&self, stream: &str) -> anyhow::Result<i64>;
}

/// The event every implementation writes: a product price change with command metadata.
pub struct Payload {
    pub event_type: &'static str,
    pub data: serde_json::Value,
    pub metadata: EventMetadata,
}

impl Payload {
    pub fn sample(n: u64) -> Self {
        let price = 1000 + (n % 9000) as i64;
        Self {
            event_type: "ProductRepriced",
            data: json!({ "price": price, "previous_price": price - 1 }),
            metadata: EventMetadata {
                correlation_id: Some(Uuid::now_v7()),
                causation_id: Some(Uuid::now_v7()),
                user_id: Some("bench".to_owned()),
                extra: serde_json::Map::new(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Workload {
    pub writers: usize,
    /// Distinct streams; equal to `writers` when uncontended.
    pub streams: usize,
}

impl Workload {
    fn label(&self) -> String {
        if self.writers == self.streams {
            format!(
                "{} writer{}",
                self.writers,
                if self.writers == 1 { "" } else { "s" }
            )
        } else {
            format!("{} writers / {} streams", self.writers, self.streams)
        }
    }
}

pub const WORKLOADS: [Workload; 4] = [
    Workload {
        writers: 1,
        streams: 1,
    },
    Workload {
        writers: 16,
        streams: 16,
    },
    Workload {
        writers: 64,
        streams: 64,
    },
    Workload {
        writers: 64,
        streams: 8,
    },
];

#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub appends: u64,
    pub seconds: f64,
    pub per_sec: f64,
    pub conflicts: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: Percentiles,
    /// Anything the implementation found wrong afterwards (e.g. duplicate versions).
    pub anomalies: Option<String>,
}

/// Runs `writers` tasks appending for `window`, each to stream `writer % streams`.
pub async fn drive(
    appender: Arc<dyn Appender>,
    workload: Workload,
    window: Duration,
) -> anyhow::Result<Measured> {
    let run = Uuid::now_v7().simple().to_string();
    let streams: Arc<Vec<String>> = Arc::new(
        (0..workload.streams)
            .map(|i| {
                format!(
                    "product-{}",
                    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{run}-{i}").as_bytes())
                )
            })
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(workload.writers);
    for w in 0..workload.writers {
        let appender = appender.clone();
        let streams = streams.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let stream = &streams[w % streams.len()];
            let mut version = appender.version(stream).await?;
            let mut latencies = Vec::with_capacity(4096);
            let (mut appends, mut conflicts, mut errors) = (0_u64, 0_u64, 0_u64);
            let mut first_error = None;
            let mut n = w as u64 * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let payload = Payload::sample(n);
                let t = Instant::now();
                match appender.append(stream, version, &payload).await {
                    Ok(Attempt::Appended) => {
                        latencies.push(t.elapsed());
                        appends += 1;
                        version += 1;
                    }
                    Ok(Attempt::Conflict) => {
                        conflicts += 1;
                        version = appender.version(stream).await?;
                    }
                    Err(e) => {
                        errors += 1;
                        if first_error.is_none() {
                            first_error = Some(format!("{e:#}"));
                        }
                        // Give up on a persistently failing implementation instead of spinning.
                        if errors > 10_000 {
                            break;
                        }
                        version = appender.version(stream).await?;
                    }
                }
            }
            anyhow::Ok((appends, conflicts, errors, first_error, latencies))
        }));
    }
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Measured {
        appends: 0,
        seconds: 0.0,
        per_sec: 0.0,
        conflicts: 0,
        errors: 0,
        first_error: None,
        latency: Percentiles::default(),
        anomalies: None,
    };
    let mut latencies = Vec::new();
    for task in tasks {
        let (appends, conflicts, errors, first_error, l) = task.await??;
        total.appends += appends;
        total.conflicts += conflicts;
        total.errors += errors;
        if total.first_error.is_none() {
            total.first_error = first_error;
        }
        latencies.extend(l);
    }
    total.seconds = started.elapsed().as_secs_f64();
    total.per_sec = total.appends as f64 / total.seconds;
    total.latency = Percentiles::of(&mut latencies);
    Ok(total)
}

/// Eventide's store.
pub struct Ours {
    pub store: SqlEventStore,
}

#[async_trait]
impl Appender for Ours {
    async fn append(
        &self,
        stream: &str,
        expected: i64,
        payload: &Payload,
    ) -> anyhow::Result<Attempt> {
        let event = NewEvent::new(
            payload.event_type,
            1,
            payload.data.clone(),
            payload.metadata.clone(),
        );
        match self
            .store
            .append(
                stream,
                "product",
                ExpectedVersion::Exact(expected),
                vec![event],
            )
            .await
        {
            Ok(_) => Ok(Attempt::Appended),
            Err(StoreError::WrongExpectedVersion { .. }) => Ok(Attempt::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn version(&self, stream: &str) -> anyhow::Result<i64> {
        Ok(self.store.stream_version(stream).await?)
    }
}

async fn measure_ours(
    backend: Backend,
    pg: &PgAdmin,
    workload: Workload,
    window: Duration,
) -> anyhow::Result<Measured> {
    let fresh = pg.fresh_db(backend, "ours").await?;
    let db = fresh
        .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
        .await?;
    let store = SqlEventStore::open(db.clone(), UpcasterRegistry::new()).await?;
    let result = drive(
        Arc::new(Ours {
            store: store.clone(),
        }),
        workload,
        window,
    )
    .await;
    store.shutdown().await;
    db.close().await;
    fresh.cleanup().await;
    result
}

/// One row of the comparison: an implementation's result per workload.
#[derive(Debug, Clone, Serialize)]
struct Row {
    backend: String,
    implementation: &'static str,
    workload: Workload,
    result: Result<Measured, String>,
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let window = Duration::from_secs_f64(plan.append_secs);
    let mut rows: Vec<Row> = Vec::new();
    let mut batched: Vec<(Backend, Result<Measured, String>)> = Vec::new();
    for &backend in backends {
        for workload in WORKLOADS {
            eprintln!("appends: {backend}, {}", workload.label());
            let ours = measure_ours(backend, pg, workload, window).await;
            rows.push(row(backend, "eventide", workload, ours));
            let seed = seed_design::measure(backend, pg, workload, window).await;
            rows.push(row(backend, "seed design", workload, seed));
            let pges = match backend {
                Backend::Postgres => postgres_es::measure(pg, workload, window).await,
                Backend::Sqlite => Err(anyhow::anyhow!("PostgreSQL only")),
            };
            rows.push(row(backend, "postgres-es", workload, pges));
            let raw = raw_limit::measure(backend, pg, workload, window).await;
            rows.push(row(backend, "raw, 1 row/tx", workload, raw));
        }
        eprintln!("appends: {backend}, raw batched");
        batched.push((
            backend,
            raw_limit::measure_batched(backend, pg, window)
                .await
                .map_err(|e| format!("{e:#}")),
        ));
    }

    let find = |backend: Backend, imp: &str, w: &Workload| -> Option<&Measured> {
        rows.iter()
            .find(|r| {
                r.backend == backend.to_string()
                    && r.implementation == imp
                    && r.workload.writers == w.writers
                    && r.workload.streams == w.streams
            })
            .and_then(|r| r.result.as_ref().ok())
    };
    let rate = |m: Option<&Measured>| m.map(|m| m.per_sec);
    let cell = |m: Option<&Measured>, imp: &str, backend: Backend| match m {
        Some(m) => thousands(m.per_sec),
        None if imp == "postgres-es" && backend == Backend::Sqlite => "–".to_owned(),
        None => "failed".to_owned(),
    };

    let mut summary = Table::new(
        "Appends per second (one event per append)",
        &[
            "backend",
            "workload",
            "eventide",
            "seed design",
            "postgres-es",
            "raw 1 row/tx",
            "raw batched",
            "ours / seed",
            "ours / postgres-es",
            "ours / raw 1 row/tx",
            "ours / raw batched",
        ],
    );
    for &backend in backends {
        let batch = batched
            .iter()
            .find(|(b, _)| *b == backend)
            .and_then(|(_, r)| r.as_ref().ok());
        for w in WORKLOADS {
            let ours = find(backend, "eventide", &w);
            let seed = find(backend, "seed design", &w);
            let pges = find(backend, "postgres-es", &w);
            let raw = find(backend, "raw, 1 row/tx", &w);
            summary.row(vec![
                backend.to_string(),
                w.label(),
                cell(ours, "eventide", backend),
                cell(seed, "seed design", backend),
                cell(pges, "postgres-es", backend),
                cell(raw, "raw", backend),
                batch.map_or("failed".to_owned(), |b| thousands(b.per_sec)),
                ratio(rate(ours), rate(seed)),
                ratio(rate(ours), rate(pges)),
                ratio(rate(ours), rate(raw)),
                ratio(rate(ours), batch.map(|b| b.per_sec)),
            ]);
        }
    }

    let mut detail = Table::new(
        "Append latency and conflicts",
        &[
            "backend",
            "workload",
            "implementation",
            "appends/s",
            "p50 ms",
            "p99 ms",
            "conflicts retried",
            "errors",
        ],
    );
    let mut notes = Vec::new();
    for r in &rows {
        match &r.result {
            Ok(m) => {
                detail.row(vec![
                    r.backend.clone(),
                    r.workload.label(),
                    r.implementation.to_owned(),
                    thousands(m.per_sec),
                    ms(m.latency.p50_ms),
                    ms(m.latency.p99_ms),
                    thousands(m.conflicts as f64),
                    thousands(m.errors as f64),
                ]);
                if let Some(e) = &m.first_error {
                    notes.push(format!(
                        "{} {} ({}): {} errors, the first: {e}",
                        r.backend,
                        r.implementation,
                        r.workload.label(),
                        m.errors
                    ));
                }
                if let Some(a) = &m.anomalies {
                    notes.push(format!(
                        "{} {} ({}): {a}",
                        r.backend,
                        r.implementation,
                        r.workload.label()
                    ));
                }
            }
            Err(e) if r.implementation == "postgres-es" && r.backend == "sqlite" => {
                let _ = e;
            }
            Err(e) => notes.push(format!(
                "{} {} ({}): not available: {e}",
                r.backend,
                r.implementation,
                r.workload.label()
            )),
        }
    }
    for (backend, b) in &batched {
        match b {
            Ok(m) => notes.push(format!(
                "{backend} raw batched: {} rows/s ({} rows in {:.1} s, {} per transaction, one writer)",
                thousands(m.per_sec),
                thousands(m.appends as f64),
                m.seconds,
                raw_limit::BATCH_ROWS
            )),
            Err(e) => notes.push(format!("{backend} raw batched: failed: {e}")),
        }
    }
    notes.push(format!(
        "Each cell: appends completed in a {} s window on a fresh database; postgres-es runs on PostgreSQL only (–).",
        plan.append_secs
    ));
    Ok(Section {
        id: "appends",
        title: "1–2. Appends: Eventide vs the seed design, postgres-es and the raw limit"
            .to_owned(),
        tables: vec![summary, detail],
        notes,
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "rows": rows, "raw_batched": batched.iter().map(|(b, r)| serde_json::json!({"backend": b.to_string(), "result": r})).collect::<Vec<_>>() }),
    })
}

fn row(
    backend: Backend,
    implementation: &'static str,
    workload: Workload,
    result: anyhow::Result<Measured>,
) -> Row {
    if let Err(e) = &result {
        eprintln!("  {implementation}: {e:#}");
    }
    Row {
        backend: backend.to_string(),
        implementation,
        workload,
        result: result.map_err(|e| format!("{e:#}")),
    }
}
