//! Measures how fast the runner rebuilds every order read model (orders, customers, products,
//! dashboard, activity) over a log of ~100,000 events, on SQLite and PostgreSQL.
//!
//! ```text
//! cargo run --release -p orders --example rebuild_rate -- [sqlite|postgres|both] [events]
//! ```
//!
//! PostgreSQL: `EVENTIDE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names the server a scratch database is created on (and dropped afterwards).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use domain::aggregate::DomainEvent;
use domain::customer::{CustomerEvent, CustomerRegistered};
use domain::order::{
    ItemAdded, OrderConfirmed, OrderDelivered, OrderEvent, OrderPlaced, OrderShipped,
};
use domain::product::{ProductCreated, ProductEvent};
use domain::values::{
    Carrier, CustomerName, Email, Money, ProductName, Quantity, Sku, TrackingNumber,
};
use domain::{CustomerId, OrderId, ProductId};
use eventstore::projection::{ProjectionRunner, RunnerConfig};
use eventstore::testing::TestDb;
use eventstore::{
    Backend, EventMetadata, EventStore as _, ExpectedVersion, NewEvent, SqlEventStore,
};
use uuid::Uuid;

fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn new_event<E: DomainEvent>(e: &E) -> NewEvent {
    NewEvent::new(
        e.event_type(),
        e.schema_version(),
        e.to_data(),
        EventMetadata::default(),
    )
}

/// Appends customers, products, then orders of 7 events each until `target` events.
async fn fill(store: &SqlEventStore, target: i64) -> anyhow::Result<i64> {
    let mut customers = Vec::new();
    for i in 0..50 {
        let id = CustomerId::new(Uuid::now_v7());
        let e = CustomerEvent::from(CustomerRegistered {
            customer_id: id,
            name: v(CustomerName::parse(&format!("Customer {i}")))?,
            email: v(Email::parse(&format!("c{i}@example.com")))?,
        });
        store
            .append(
                &format!("customer-{id}"),
                "customer",
                ExpectedVersion::NoStream,
                vec![new_event(&e)],
            )
            .await?;
        customers.push(e);
    }
    let mut products = Vec::new();
    for i in 0..20 {
        let created = ProductCreated {
            product_id: ProductId::new(Uuid::now_v7()),
            sku: v(Sku::parse(&format!("SKU-{i}")))?,
            name: v(ProductName::parse(&format!("Product {i}")))?,
            price: v(Money::from_cents(100 + i * 37))?,
        };
        let e = ProductEvent::from(created.clone());
        store
            .append(
                &format!("product-{}", created.product_id),
                "product",
                ExpectedVersion::NoStream,
                vec![new_event(&e)],
            )
            .await?;
        products.push(created);
    }
    let mut n = 0_usize;
    let mut pending = Vec::new();
    while store.head_position().await? < target {
        for _ in 0..64 {
            let order_id = OrderId::new(Uuid::now_v7());
            let CustomerEvent::Registered(c) = &customers[n % customers.len()] else {
                continue;
            };
            let mut events: Vec<OrderEvent> = vec![
                OrderPlaced {
                    order_id,
                    customer_id: c.customer_id,
                    customer_name: c.name.clone(),
                }
                .into(),
            ];
            let mut total = 0;
            for k in 0..3 {
                let p = &products[(n + k * 7) % products.len()];
                let q = (n % 4 + 1) as u32;
                total += p.price.cents() * i64::from(q);
                events.push(
                    ItemAdded {
                        product_id: p.product_id,
                        sku: p.sku.clone(),
                        product_name: p.name.clone(),
                        unit_price: p.price,
                        quantity: v(Quantity::new(q))?,
                    }
                    .into(),
                );
            }
            events.push(
                OrderConfirmed {
                    total: v(Money::from_cents(total))?,
                    line_count: 3,
                    item_count: 3 * (n % 4 + 1) as u32,
                }
                .into(),
            );
            events.push(
                OrderShipped {
                    carrier: v(Carrier::parse("DHL"))?,
                    tracking_number: v(TrackingNumber::parse(&format!("TRK{n}")))?,
                }
                .into(),
            );
            events.push(OrderDelivered {}.into());
            let store = store.clone();
            let batch: Vec<NewEvent> = events.iter().map(new_event).collect();
            pending.push(tokio::spawn(async move {
                store
                    .append(
                        &format!("order-{order_id}"),
                        "order",
                        ExpectedVersion::NoStream,
                        batch,
                    )
                    .await
            }));
            n += 1;
        }
        for task in pending.drain(..) {
            task.await??;
        }
    }
    Ok(store.head_position().await?)
}

async fn measure(backend: Backend, target: i64) -> anyhow::Result<()> {
    let test_db = TestDb::new(backend).await?;
    let store = Arc::new(
        SqlEventStore::open(test_db.db().clone(), orders::command::upcaster_registry()).await?,
    );
    let started = Instant::now();
    let head = fill(&store, target).await?;
    println!(
        "{backend}: appended {head} events in {:.1?}",
        started.elapsed()
    );

    let config = RunnerConfig {
        batch_size: 1000,
        ..RunnerConfig::default()
    };
    let started = Instant::now();
    let runner = ProjectionRunner::start(store.clone(), orders::projections::all(), config).await?;
    anyhow::ensure!(
        runner.wait_for_all(head, Duration::from_secs(3600)).await,
        "catch-up did not finish"
    );
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{backend}: initial catch-up of all 5 read models: {secs:.1} s, {:.0} events/s",
        head as f64 / secs
    );

    let generations = |runner: &ProjectionRunner| -> Vec<i64> {
        runner.status().iter().map(|s| s.generation).collect()
    };
    let before = generations(&runner);
    let started = Instant::now();
    runner.rebuild_all().await?;
    loop {
        let now = generations(&runner);
        if now.iter().zip(&before).all(|(a, b)| a > b) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{backend}: rebuild of all 5 read models (side by side, live kept current): {secs:.1} s, \
         {:.0} events/s ({:.0} projection-events/s)",
        head as f64 / secs,
        5.0 * head as f64 / secs
    );
    runner.shutdown().await;
    store.shutdown().await;
    test_db.cleanup().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "both".to_owned());
    let target: i64 = args
        .next()
        .map(|s| s.parse())
        .transpose()
        .context("events must be a number")?
        .unwrap_or(100_000);
    let backends: &[Backend] = match which.as_str() {
        "sqlite" => &[Backend::Sqlite],
        "postgres" => &[Backend::Postgres],
        _ => &[Backend::Sqlite, Backend::Postgres],
    };
    for backend in backends {
        measure(*backend, target).await?;
    }
    Ok(())
}
