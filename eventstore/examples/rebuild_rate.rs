//! Rebuild throughput of a simple projection (counts per stream) over 100,000 events, on SQLite
//! and PostgreSQL (fresh databases from the test harness; PostgreSQL admin URL from
//! `EVENTIDE_TEST_PG_URL`). Run: `cargo run --release -p eventstore --example rebuild_rate`.
//! Optional argument: the number of events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use eventstore::projection::{Projection, ProjectionRunner, RunnerConfig};
use eventstore::testing::TestDb;
use eventstore::{
    Backend, EventMetadata, EventStore as _, ExpectedVersion, NewEvent, RecordedEvent,
    SqlEventStore, UpcasterRegistry,
};
use sqlx::AnyConnection;

struct StreamCounts;

#[async_trait]
impl Projection for StreamCounts {
    fn name(&self) -> &'static str {
        "stream_counts"
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "insert into bench_counts (generation, stream_id, count) values ($1, $2, 1) \
             on conflict (generation, stream_id) do update set count = bench_counts.count + 1",
        )
        .bind(generation)
        .bind(&event.stream_id)
        .execute(tx)
        .await?;
        Ok(())
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("delete from bench_counts where generation = $1")
            .bind(generation)
            .execute(conn)
            .await?;
        Ok(())
    }
}

async fn measure(backend: Backend, events: usize) -> anyhow::Result<(f64, f64)> {
    let test_db = TestDb::new(backend).await?;
    let db = test_db.db().clone();
    sqlx::query(
        "create table bench_counts (generation bigint not null, stream_id text not null, \
         count bigint not null, primary key (generation, stream_id))",
    )
    .execute(db.pool())
    .await?;
    let store = Arc::new(SqlEventStore::open(db.clone(), UpcasterRegistry::new()).await?);
    let mut appended = 0;
    let mut i = 0;
    while appended < events {
        let n = (events - appended).min(1000);
        let batch = (0..n)
            .map(|k| {
                NewEvent::new(
                    "Counted",
                    1,
                    serde_json::json!({ "k": k, "note": "a typical small payload" }),
                    EventMetadata::default(),
                )
            })
            .collect();
        store
            .append(
                &format!("stream-{}", i % 1000),
                "bench",
                ExpectedVersion::Any,
                batch,
            )
            .await?;
        appended += n;
        i += 1;
    }
    let head = store.head_position().await?;

    let started = Instant::now();
    let runner = ProjectionRunner::start(
        store.clone(),
        vec![Arc::new(StreamCounts)],
        RunnerConfig::default(),
    )
    .await?;
    let patience = Duration::from_secs(600);
    anyhow::ensure!(runner.wait_for("stream_counts", head, patience).await?);
    let catch_up = head as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    runner.rebuild("stream_counts").await?;
    loop {
        let status = runner.status_of("stream_counts")?;
        if status.generation == 2 && status.rebuild.is_none() {
            break;
        }
        anyhow::ensure!(started.elapsed() < patience, "rebuild did not finish");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rebuild = head as f64 / started.elapsed().as_secs_f64();

    runner.shutdown().await;
    store.shutdown().await;
    test_db.cleanup().await;
    Ok((catch_up, rebuild))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    println!("{events} events, batch 500, projection: count per stream (1000 streams)");
    println!(
        "{:<10} {:>18} {:>18}",
        "backend", "catch-up ev/s", "rebuild ev/s"
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (catch_up, rebuild) = measure(backend, events).await?;
        println!(
            "{:<10} {:>18.0} {:>18.0}",
            backend.to_string(),
            catch_up,
            rebuild
        );
    }
    Ok(())
}
