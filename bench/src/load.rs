//! Scenario 3: loading an aggregate of 10, 1,000 and 10,000 events through the command service's
//! loader, without a snapshot and with one at the head, p50 and p99.

use std::time::{Duration, Instant};

use domain::DomainEvent as _;
use domain::ProductId;
use domain::aggregate::Aggregate as _;
use domain::product::{Product, ProductCreated, ProductEvent, ProductRepriced};
use domain::values::{Money, ProductName, Sku};
use eventstore::{
    Backend, EventMetadata, EventStore as _, ExpectedVersion, NewEvent, Snapshot, SqlEventStore,
};
use orders::command::loader::load_aggregate;
use uuid::Uuid;

use crate::Plan;
use crate::report::{Section, Table};
use crate::support::{Percentiles, PgAdmin, ms, thousands};

const SIZES: [i64; 3] = [10, 1_000, 10_000];
/// Events per append while filling a stream.
const FILL_BATCH: usize = 1_000;
/// Upper bound of the time spent measuring one size in one mode.
const MAX_MEASURE: Duration = Duration::from_secs(12);

pub fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("invalid domain value: {e:?}"))
}

fn new_event(e: &ProductEvent) -> NewEvent {
    NewEvent::new(
        e.event_type(),
        e.schema_version(),
        e.to_data(),
        EventMetadata::default(),
    )
}

/// A product created then repriced until its stream holds `events` events.
pub async fn fill(store: &SqlEventStore, events: i64) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let stream = Product::stream_id(id);
    let mut all = vec![ProductEvent::from(ProductCreated {
        product_id: ProductId::new(id),
        sku: v(Sku::parse(&format!("LOAD-{events}")))?,
        name: v(ProductName::parse("Load test product"))?,
        price: v(Money::from_cents(1000))?,
    })];
    for i in 1..events {
        all.push(ProductEvent::from(ProductRepriced {
            price: v(Money::from_cents(1000 + i))?,
            previous_price: v(Money::from_cents(999 + i))?,
        }));
    }
    let mut version = 0_i64;
    for chunk in all.chunks(FILL_BATCH) {
        let batch: Vec<NewEvent> = chunk.iter().map(new_event).collect();
        let r = store
            .append(&stream, "product", ExpectedVersion::Exact(version), batch)
            .await?;
        version = r.last_version;
    }
    Ok(id)
}

#[derive(Debug, serde::Serialize)]
struct Row {
    backend: String,
    events: i64,
    snapshot: bool,
    latency: Percentiles,
}

pub async fn measure(
    store: &SqlEventStore,
    id: Uuid,
    snapshot_version: i32,
    samples: usize,
) -> anyhow::Result<Percentiles> {
    // One untimed load warms the connection pool and caches.
    load_aggregate::<Product>(store, id, snapshot_version, 0).await?;
    let mut latencies = Vec::with_capacity(samples);
    let started = Instant::now();
    while latencies.len() < samples && (latencies.len() < 10 || started.elapsed() < MAX_MEASURE) {
        let t = Instant::now();
        let loaded = load_aggregate::<Product>(store, id, snapshot_version, 0).await?;
        latencies.push(t.elapsed());
        anyhow::ensure!(loaded.version > 0, "the product did not load");
    }
    Ok(Percentiles::of(&mut latencies))
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let mut rows = Vec::new();
    for &backend in backends {
        eprintln!("load: {backend}");
        let fresh = pg.fresh_db(backend, "load").await?;
        let db = fresh
            .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
            .await?;
        let store = SqlEventStore::open(db.clone(), orders::command::upcaster_registry()).await?;
        let result = async {
            for events in SIZES {
                let id = fill(&store, events).await?;
                // No snapshot of this schema version exists: every event is read.
                let without = measure(
                    &store,
                    id,
                    Product::SNAPSHOT_VERSION + 1000,
                    plan.load_samples,
                )
                .await?;
                rows.push(Row {
                    backend: backend.to_string(),
                    events,
                    snapshot: false,
                    latency: without,
                });
                let loaded =
                    load_aggregate::<Product>(&store, id, Product::SNAPSHOT_VERSION, 0).await?;
                store
                    .save_snapshot(&Snapshot {
                        stream_id: Product::stream_id(id),
                        version: loaded.version,
                        schema_version: Product::SNAPSHOT_VERSION,
                        state: serde_json::to_value(&loaded.state)?,
                    })
                    .await?;
                let with =
                    measure(&store, id, Product::SNAPSHOT_VERSION, plan.load_samples).await?;
                rows.push(Row {
                    backend: backend.to_string(),
                    events,
                    snapshot: true,
                    latency: with,
                });
            }
            anyhow::Ok(())
        }
        .await;
        store.shutdown().await;
        db.close().await;
        fresh.cleanup().await;
        result?;
    }
    let mut table = Table::new(
        "Aggregate load (Product stream), milliseconds",
        &[
            "backend",
            "events",
            "no snapshot p50",
            "no snapshot p99",
            "snapshot p50",
            "snapshot p99",
            "loads measured",
        ],
    );
    for &backend in backends {
        for events in SIZES {
            let find = |snap: bool| {
                rows.iter().find(|r| {
                    r.backend == backend.to_string() && r.events == events && r.snapshot == snap
                })
            };
            if let (Some(a), Some(b)) = (find(false), find(true)) {
                table.row(vec![
                    backend.to_string(),
                    thousands(events as f64),
                    ms(a.latency.p50_ms),
                    ms(a.latency.p99_ms),
                    ms(b.latency.p50_ms),
                    ms(b.latency.p99_ms),
                    format!("{} / {}", a.latency.count, b.latency.count),
                ]);
            }
        }
    }
    Ok(Section {
        id: "load",
        title: "3. Aggregate load".to_owned(),
        tables: vec![table],
        notes: vec![
            "Load = snapshot read (if any) + `read_stream` pages of 500 + upcast + decode + evolve, \
             `orders::command::loader::load_aggregate`; the snapshot sits at the stream's head."
                .to_owned(),
        ],
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "rows": rows }),
    })
}
