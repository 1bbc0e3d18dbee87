//! Scenario 9: what the hash chain costs and how fast it is checked. In the same run and on the
//! same workloads, fresh stores with the chain off and on: single-event appends from 64 writers
//! (the shape of commands) and the rebuild scenario's batched fill (7-event order appends, 512 in
//! flight). Then `verify` of the whole filled log (chain on), and the backfill of the log that was
//! filled with the chain off (reopened with it on: a database from before the chain).

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventstore::{Backend, SqlEventStore, StoreOptions, UpcasterRegistry, VerifyRange};

use crate::Plan;
use crate::appends::{Ours, Workload, drive};
use crate::report::{Section, Table};
use crate::support::{PgAdmin, thousands};

/// Single-event appends: 64 writers on 64 streams.
const WORKLOAD: Workload = Workload {
    writers: 64,
    streams: 64,
};
/// Off/on rounds of the single-event workload (alternated, so drift hits both alike).
const ROUNDS: usize = 2;

#[derive(Debug, Default, serde::Serialize)]
struct Row {
    backend: String,
    single_off_per_sec: f64,
    single_on_per_sec: f64,
    fill_events: i64,
    fill_off_events_per_sec: f64,
    fill_on_events_per_sec: f64,
    verify_events: u64,
    verify_events_per_sec: f64,
    verify_intact: bool,
    backfill_events_per_sec: f64,
}

async fn single_appends(
    backend: Backend,
    pg: &PgAdmin,
    hash_chain: bool,
    window: Duration,
) -> anyhow::Result<f64> {
    let fresh = pg.fresh_db(backend, "chain").await?;
    let db = fresh
        .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
        .await?;
    let store = SqlEventStore::open_with(
        db.clone(),
        UpcasterRegistry::new(),
        StoreOptions { hash_chain },
    )
    .await?;
    let result = drive(
        Arc::new(Ours {
            store: store.clone(),
        }),
        WORKLOAD,
        window,
    )
    .await;
    store.shutdown().await;
    db.close().await;
    fresh.cleanup().await;
    let measured = result?;
    anyhow::ensure!(
        measured.errors == 0,
        "append errors: {:?}",
        measured.first_error
    );
    Ok(measured.per_sec)
}

async fn measure(plan: &Plan, backend: Backend, pg: &PgAdmin) -> anyhow::Result<Row> {
    let mut row = Row {
        backend: backend.to_string(),
        ..Row::default()
    };
    let window = Duration::from_secs_f64(plan.chain_secs);
    for round in 0..ROUNDS {
        eprintln!("chain: {backend}, single appends round {}", round + 1);
        row.single_off_per_sec += single_appends(backend, pg, false, window).await? / ROUNDS as f64;
        row.single_on_per_sec += single_appends(backend, pg, true, window).await? / ROUNDS as f64;
    }

    // The batched fill, chain off then on, each on a fresh database.
    let off = pg.fresh_db(backend, "chain_off").await?;
    let off_db = off
        .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
        .await?;
    let on = pg.fresh_db(backend, "chain_on").await?;
    let on_db = on.migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS).await?;
    let result = async {
        for hash_chain in [false, true] {
            let db = if hash_chain { &on_db } else { &off_db };
            eprintln!(
                "chain: {backend}, filling {} events with the chain {}",
                plan.chain_events,
                if hash_chain { "on" } else { "off" }
            );
            let store = SqlEventStore::open_with(
                db.clone(),
                orders::command::upcaster_registry(),
                StoreOptions { hash_chain },
            )
            .await?;
            let t = Instant::now();
            let head = crate::rebuild::fill(&store, plan.chain_events).await;
            let seconds = t.elapsed().as_secs_f64();
            store.shutdown().await;
            let head = head?;
            row.fill_events = head;
            if hash_chain {
                row.fill_on_events_per_sec = head as f64 / seconds;
            } else {
                row.fill_off_events_per_sec = head as f64 / seconds;
            }
        }
        eprintln!("chain: {backend}, verifying {} events", row.fill_events);
        let report = eventstore::verify(&on_db, VerifyRange::default(), None, |_| {}).await?;
        row.verify_events = report.checked;
        row.verify_events_per_sec = report.events_per_sec();
        row.verify_intact = report.problem.is_none();
        anyhow::ensure!(
            row.verify_intact,
            "the filled log does not verify: {report:?}"
        );

        eprintln!("chain: {backend}, backfilling the log filled with the chain off");
        let t = Instant::now();
        let store = SqlEventStore::open(off_db.clone(), UpcasterRegistry::new()).await?;
        row.backfill_events_per_sec = row.fill_events as f64 / t.elapsed().as_secs_f64();
        store.shutdown().await;
        let report = eventstore::verify(&off_db, VerifyRange::default(), None, |_| {}).await?;
        anyhow::ensure!(
            report.problem.is_none(),
            "the backfilled log does not verify: {report:?}"
        );
        anyhow::Ok(())
    }
    .await;
    off_db.close().await;
    on_db.close().await;
    off.cleanup().await;
    on.cleanup().await;
    result?;
    Ok(row)
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let mut rows = Vec::new();
    for &backend in backends {
        rows.push(measure(plan, backend, pg).await?);
    }
    let mut appends = Table::new(
        "Appends with the hash chain off and on (same run, fresh stores, same workload)",
        &[
            "backend",
            "single appends/s, off",
            "single appends/s, on",
            "on/off",
            "batched fill events/s, off",
            "batched fill events/s, on",
            "on/off",
        ],
    );
    let mut checks = Table::new(
        "Verify and backfill",
        &["backend", "events", "verify events/s", "backfill events/s"],
    );
    for r in &rows {
        appends.row(vec![
            r.backend.clone(),
            thousands(r.single_off_per_sec),
            thousands(r.single_on_per_sec),
            format!(
                "{:.2}",
                r.single_on_per_sec / r.single_off_per_sec.max(1e-9)
            ),
            thousands(r.fill_off_events_per_sec),
            thousands(r.fill_on_events_per_sec),
            format!(
                "{:.2}",
                r.fill_on_events_per_sec / r.fill_off_events_per_sec.max(1e-9)
            ),
        ]);
        checks.row(vec![
            r.backend.clone(),
            thousands(r.verify_events as f64),
            thousands(r.verify_events_per_sec),
            thousands(r.backfill_events_per_sec),
        ]);
    }
    Ok(Section {
        id: "chain",
        title: "9. Hash chain".to_owned(),
        tables: vec![appends, checks],
        notes: vec![format!(
            "Single appends: {} writers on {} streams, one event per append, {ROUNDS} alternating \
             off/on rounds averaged, each on a fresh database. Batched fill: the rebuild \
             scenario's fill (customers, products, then 7-event order appends, 512 in flight). \
             Verify: `eventstore::verify` over the whole log filled with the chain on (one \
             reader, pages of 5,000 rows; each row's JSON re-parsed, canonicalised and hashed). \
             Backfill: the log filled with the chain off, reopened with it on (store open time).",
            WORKLOAD.writers, WORKLOAD.streams
        )],
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "rows": rows }),
    })
}
