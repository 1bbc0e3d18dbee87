//! Scenario 4: projection rebuild throughput. A log of valid customer, product and order events is
//! appended in big batches straight through the store; then a fresh `ProjectionRunner` catches
//! every order read model up from position 0, timed to completion.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::DomainEvent;
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
use eventstore::{
    Backend, EventMetadata, EventStore as _, ExpectedVersion, NewEvent, SqlEventStore,
};
use futures::StreamExt as _;
use uuid::Uuid;

use crate::Plan;
use crate::load::v;
use crate::report::{Section, Table};
use crate::support::{PgAdmin, thousands};

const CUSTOMERS: usize = 200;
const PRODUCTS: usize = 50;
/// Order appends in flight while filling (the store's writer batches them).
pub const IN_FLIGHT: usize = 512;

fn new_event<E: DomainEvent>(e: &E) -> NewEvent {
    NewEvent::new(
        e.event_type(),
        e.schema_version(),
        e.to_data(),
        EventMetadata::default(),
    )
}

/// One order's life: placed, three items, confirmed, shipped, delivered (7 events).
fn order_events(
    n: usize,
    customer: &CustomerRegistered,
    products: &[ProductCreated],
) -> anyhow::Result<(OrderId, Vec<NewEvent>)> {
    let order_id = OrderId::new(Uuid::now_v7());
    let mut events: Vec<OrderEvent> = vec![
        OrderPlaced {
            order_id,
            customer_id: customer.customer_id,
            customer_name: customer.name.clone(),
        }
        .into(),
    ];
    let mut total = 0;
    let q = (n % 4 + 1) as u32;
    for k in 0..3 {
        let p = &products[(n + k * 7) % products.len()];
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
            item_count: 3 * q,
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
    Ok((order_id, events.iter().map(new_event).collect()))
}

/// Order streams [`Fill`] remembers: one in this many (the first one included).
const SAMPLE_EVERY: usize = 1_000;

/// The fill's catalog (customers and products, appended once) and how many orders it appended
/// so far: [`orders_until`](Self::orders_until) can be called again to grow the same log.
pub struct Fill {
    customers: Arc<Vec<CustomerRegistered>>,
    products: Arc<Vec<ProductCreated>>,
    orders: usize,
    /// Stream ids of every [`SAMPLE_EVERY`]th order appended.
    pub order_streams: Vec<String>,
}

impl Fill {
    /// Appends the customers and the products, one append each.
    pub async fn start(store: &SqlEventStore) -> anyhow::Result<Self> {
        let mut customers = Vec::with_capacity(CUSTOMERS);
        for i in 0..CUSTOMERS {
            let c = CustomerRegistered {
                customer_id: CustomerId::new(Uuid::now_v7()),
                name: v(CustomerName::parse(&format!("Customer {i}")))?,
                email: v(Email::parse(&format!("customer{i}@example.com")))?,
            };
            store
                .append(
                    &format!("customer-{}", c.customer_id),
                    "customer",
                    ExpectedVersion::NoStream,
                    vec![new_event(&CustomerEvent::from(c.clone()))],
                )
                .await?;
            customers.push(c);
        }
        let mut products = Vec::with_capacity(PRODUCTS);
        for i in 0..PRODUCTS {
            let p = ProductCreated {
                product_id: ProductId::new(Uuid::now_v7()),
                sku: v(Sku::parse(&format!("SKU-{i}")))?,
                name: v(ProductName::parse(&format!("Product {i}")))?,
                price: v(Money::from_cents(199 + i as i64 * 37))?,
            };
            store
                .append(
                    &format!("product-{}", p.product_id),
                    "product",
                    ExpectedVersion::NoStream,
                    vec![new_event(&ProductEvent::from(p.clone()))],
                )
                .await?;
            products.push(p);
        }
        Ok(Self {
            customers: Arc::new(customers),
            products: Arc::new(products),
            orders: 0,
            order_streams: Vec::new(),
        })
    }

    /// Appends orders (7 events each, [`IN_FLIGHT`] appends in flight) until the log holds at
    /// least `target` events; answers the head.
    pub async fn orders_until(
        &mut self,
        store: &SqlEventStore,
        target: i64,
    ) -> anyhow::Result<i64> {
        let head = store.head_position().await?;
        let orders = usize::try_from(((target - head).max(0) + 6) / 7)?;
        let first = self.orders;
        let mut appends = futures::stream::iter(first..first + orders)
            .map(|n| {
                let store = store.clone();
                let customers = self.customers.clone();
                let products = self.products.clone();
                async move {
                    let (order_id, events) =
                        order_events(n, &customers[n % customers.len()], &products)?;
                    let stream = format!("order-{order_id}");
                    store
                        .append(&stream, "order", ExpectedVersion::NoStream, events)
                        .await?;
                    anyhow::Ok((n, stream))
                }
            })
            .buffer_unordered(IN_FLIGHT);
        while let Some(r) = appends.next().await {
            let (n, stream) = r?;
            if n % SAMPLE_EVERY == 0 {
                self.order_streams.push(stream);
            }
        }
        self.orders = first + orders;
        Ok(store.head_position().await?)
    }
}

/// Appends customers, products, then orders until the log holds at least `target` events.
pub async fn fill(store: &SqlEventStore, target: i64) -> anyhow::Result<i64> {
    Fill::start(store).await?.orders_until(store, target).await
}

/// A projection runner with every order read model (`orders::projections::all()`) and the
/// default config, on `store`.
pub async fn start_runner(store: &Arc<SqlEventStore>) -> anyhow::Result<ProjectionRunner> {
    Ok(ProjectionRunner::start(
        store.clone(),
        orders::projections::all(),
        RunnerConfig::default(),
    )
    .await?)
}

/// The faults of `runner`'s projections, `name: fault` each.
pub(crate) fn faults(runner: &ProjectionRunner) -> Vec<String> {
    runner
        .status()
        .iter()
        .filter_map(|s| s.fault.as_ref().map(|f| format!("{}: {f:?}", s.name)))
        .collect()
}

/// Waits until every live projection of `runner` reached `head` (an error, with the faults,
/// if `timeout` passes first).
pub async fn caught_up(
    runner: &ProjectionRunner,
    head: i64,
    timeout: Duration,
) -> anyhow::Result<()> {
    let done = runner.wait_for_all(head, timeout).await;
    anyhow::ensure!(
        done,
        "the projections did not catch up: {:?}",
        faults(runner)
    );
    Ok(())
}

#[derive(Debug, serde::Serialize)]
struct Row {
    backend: String,
    events: i64,
    fill_seconds: f64,
    fill_events_per_sec: f64,
    rebuild_seconds: f64,
    rebuild_events_per_sec: f64,
    projections: Vec<&'static str>,
}

pub async fn run(plan: &Plan, backends: &[Backend], pg: &PgAdmin) -> anyhow::Result<Section> {
    let started = Instant::now();
    let mut rows = Vec::new();
    for &backend in backends {
        eprintln!("rebuild: {backend}, filling {} events", plan.rebuild_events);
        let fresh = pg.fresh_db(backend, "rebuild").await?;
        let db = fresh
            .migrated(eventstore::db::DEFAULT_MAX_CONNECTIONS)
            .await?;
        let store =
            Arc::new(SqlEventStore::open(db.clone(), orders::command::upcaster_registry()).await?);
        let result = async {
            let t = Instant::now();
            let head = fill(&store, plan.rebuild_events).await?;
            let fill_seconds = t.elapsed().as_secs_f64();
            eprintln!("rebuild: {backend}, {head} events in {fill_seconds:.1} s; catching up");
            let t = Instant::now();
            let runner = start_runner(&store).await?;
            let done = caught_up(&runner, head, Duration::from_secs(1800)).await;
            let rebuild_seconds = t.elapsed().as_secs_f64();
            let names = runner.names();
            runner.shutdown().await;
            done?;
            anyhow::Ok(Row {
                backend: backend.to_string(),
                events: head,
                fill_seconds,
                fill_events_per_sec: head as f64 / fill_seconds,
                rebuild_seconds,
                rebuild_events_per_sec: head as f64 / rebuild_seconds,
                projections: names,
            })
        }
        .await;
        store.shutdown().await;
        db.close().await;
        fresh.cleanup().await;
        rows.push(result?);
    }
    let mut table = Table::new(
        "Projection rebuild (catch-up from 0 into the order read models)",
        &[
            "backend",
            "events in log",
            "rebuild s",
            "rebuild events/s",
            "fill s (batched appends)",
            "fill events/s",
        ],
    );
    for r in &rows {
        table.row(vec![
            r.backend.clone(),
            thousands(r.events as f64),
            format!("{:.1}", r.rebuild_seconds),
            thousands(r.rebuild_events_per_sec),
            format!("{:.1}", r.fill_seconds),
            thousands(r.fill_events_per_sec),
        ]);
    }
    let names = rows
        .first()
        .map(|r| r.projections.join(", "))
        .unwrap_or_default();
    let batch = RunnerConfig::default().batch_size;
    Ok(Section {
        id: "rebuild",
        title: "4. Projection rebuild".to_owned(),
        tables: vec![table],
        notes: vec![format!(
            "A fresh `ProjectionRunner` (default config, batches of up to {batch} events) with \
             every read model ({names}) starts at position 0; the time until all of them reached the head. Each \
             event of the log is applied by each read model (customer, product and order events; \
             7 events per order). Fill: orders appended 7 events at a time, {IN_FLIGHT} in flight."
        )],
        seconds: started.elapsed().as_secs_f64(),
        data: serde_json::json!({ "rows": rows }),
    })
}
