//! Relay publish rate: appends N events (default 20,000; first argument overrides) to a fresh
//! SQLite database, then times the relay publishing all of them to JetStream (real NATS at
//! `EVENTIDE_TEST_NATS_URL`, default nats://127.0.0.1:4222) until its checkpoint reaches the
//! head. Uses its own stream and deletes it afterwards.
//!
//! `cargo run --release -p orders --example relay_rate [-- 20000]`

use std::time::{Duration, Instant};

use anyhow::Context as _;
use domain::views::RelayState;
use eventstore::testing::TestDb;
use eventstore::{
    EventMetadata, EventStore, ExpectedVersion, NewEvent, SqlEventStore, UpcasterRegistry,
};
use orders::relay::{Relay, RelayConfig};
use serde_json::json;
use uuid::Uuid;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().context("event count")?,
        None => 20_000,
    };
    let url =
        std::env::var("EVENTIDE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let test_db = TestDb::sqlite().await?;
    let store = SqlEventStore::open(test_db.db().clone(), UpcasterRegistry::new()).await?;

    // Append in chunks of 100 events over 50 streams.
    let started = Instant::now();
    let mut appended = 0;
    while appended < n {
        let chunk = (n - appended).min(100);
        let events = (0..chunk)
            .map(|i| {
                NewEvent::new(
                    "Benchmarked",
                    1,
                    json!({"i": appended + i, "payload": "x".repeat(100)}),
                    EventMetadata {
                        correlation_id: Some(Uuid::now_v7()),
                        ..EventMetadata::default()
                    },
                )
            })
            .collect();
        store
            .append(
                &format!("bench-{}", appended / 100 % 50),
                "bench",
                ExpectedVersion::Any,
                events,
            )
            .await?;
        appended += chunk;
    }
    println!("appended {n} events in {:.2?}", started.elapsed());
    let head = store.head_position().await?;

    let tag = Uuid::now_v7().simple().to_string();
    let config = RelayConfig {
        subject_prefix: format!("bench.{tag}"),
        stream_name: format!("BENCH_{tag}"),
        ..RelayConfig::with_broker(url.clone())
    };
    let stream_name = config.stream_name.clone();
    let started = Instant::now();
    let relay = Relay::start(store.clone(), config);
    let mut status = relay.subscribe_status();
    tokio::time::timeout(
        Duration::from_secs(600),
        status.wait_for(|s| s.checkpoint >= head && s.state == RelayState::Connected),
    )
    .await
    .context("relay did not catch up in time")?
    .context("relay stopped")?;
    let elapsed = started.elapsed();
    println!(
        "relay published {n} events in {elapsed:.2?}: {:.0} events/s (window 256, incl. connect and stream setup)",
        n as f64 / elapsed.as_secs_f64()
    );
    relay.shutdown().await;

    let client = async_nats::connect(url.as_str()).await?;
    let js = async_nats::jetstream::new(client);
    let _ = js.delete_stream(&stream_name).await;
    store.shutdown().await;
    test_db.cleanup().await;
    Ok(())
}
