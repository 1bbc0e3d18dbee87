//! Appends per second with 1 and 16 concurrent writers (one event per append, a new stream per
//! append, ~3 s each) on SQLite (temp file, WAL, synchronous=FULL) and PostgreSQL
//! (synchronous_commit=on; a fresh database on `EVENTIDE_TEST_PG_URL`).
//!
//! `cargo run --release -p eventstore --example append_rate`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventstore::testing::TestDb;
use eventstore::{
    Backend, EventMetadata, EventStore, ExpectedVersion, NewEvent, SqlEventStore, UpcasterRegistry,
};
use serde_json::json;

const RUN: Duration = Duration::from_secs(3);

async fn rate(store: &SqlEventStore, writers: usize, tag: &str) -> anyhow::Result<f64> {
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let count = count.clone();
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut i = 0_u64;
            while start.elapsed() < RUN {
                let e = NewEvent::new(
                    "Benchmarked",
                    1,
                    json!({"writer": w, "i": i, "payload": "x".repeat(100)}),
                    EventMetadata::default(),
                );
                store
                    .append(
                        &format!("{tag}-{w}-{i}"),
                        "bench",
                        ExpectedVersion::NoStream,
                        vec![e],
                    )
                    .await?;
                count.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

async fn bench(backend: Backend) -> anyhow::Result<()> {
    let test_db = TestDb::new(backend).await?;
    let store = SqlEventStore::open(test_db.db().clone(), UpcasterRegistry::new()).await?;
    for writers in [1, 16] {
        let r = rate(&store, writers, &format!("w{writers}")).await?;
        println!("{backend:<8} {writers:>2} writer(s): {r:>8.0} appends/s");
    }
    store.shutdown().await;
    test_db.cleanup().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Err(e) = bench(backend).await {
            println!("{backend}: skipped ({e})");
        }
    }
    Ok(())
}
