//! Projection `orders`: order summaries (the list) and details (lines, shipping, cancellation),
//! with the customer name kept current.
//!
//! Orders fold through the domain's own `Order::evolve` (`fold.rs`); `rows.rs` maps the folded
//! state to `rm_orders`/`rm_order_lines` and back, `customers.rs` keeps the names. A batch reads
//! the orders it touches once, folds its events in memory and writes each order once; a single
//! event is a batch of one, so the runner's event-by-event fallback and a replay leave the same
//! rows as a catch-up.

mod customers;
mod fold;
mod rows;

use async_trait::async_trait;
use domain::aggregate::Aggregate as _;
use domain::customer::{Customer, CustomerEvent};
use domain::order::{Order, OrderEvent};
use eventstore::RecordedEvent;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::instrument;
use uuid::Uuid;

use super::touched::TouchedOrders;
use super::{GenerationTable, ORDERS, decode};
use customers::CustomerNames;
use fold::FoldedOrder;

/// The tables of a generation.
const TABLES: &[GenerationTable] = &[
    GenerationTable {
        name: "rm_orders",
        key: "order_id",
    },
    GenerationTable {
        name: "rm_order_lines",
        key: "order_id, product_id",
    },
    GenerationTable {
        name: "rm_order_customers",
        key: "customer_id",
    },
];

/// See the module docs. Tables: `rm_orders`, `rm_order_lines`, `rm_order_customers`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrdersProjection;

#[async_trait]
impl Projection for OrdersProjection {
    fn name(&self) -> &'static str {
        ORDERS
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        event.stream_type == Order::STREAM_TYPE || event.stream_type == Customer::STREAM_TYPE
    }

    #[instrument(name = "projection.orders", skip_all, fields(generation = generation, position = event.position, event_type = %event.event_type))]
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        apply_events(tx, generation, &[event]).await
    }

    #[instrument(name = "projection.orders.batch", skip_all, fields(generation = generation, events = events.len()))]
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        events: &[&RecordedEvent],
    ) -> anyhow::Result<()> {
        apply_events(tx, generation, events).await
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        super::drop_tables(conn, generation, TABLES).await
    }

    async fn drop_generation_chunk(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
        limit: u64,
    ) -> anyhow::Result<u64> {
        super::drop_tables_chunk(conn, generation, TABLES, limit).await
    }
}

/// An event as this projection reads it.
enum Decoded {
    Order(Uuid, OrderEvent),
    Customer(Uuid, CustomerEvent),
    Other,
}

impl Decoded {
    fn of(event: &RecordedEvent) -> anyhow::Result<Self> {
        Ok(if let Some((id, e)) = decode::<Order>(event)? {
            Self::Order(id, e)
        } else if let Some((id, e)) = decode::<Customer>(event)? {
            Self::Customer(id, e)
        } else {
            Self::Other
        })
    }
}

/// `events` in log order: read the touched orders, fold, write names, then orders.
async fn apply_events(
    tx: &mut AnyConnection,
    generation: i64,
    events: &[&RecordedEvent],
) -> anyhow::Result<()> {
    let decoded = events
        .iter()
        .map(|event| Ok((*event, Decoded::of(event)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let order_events = || {
        decoded.iter().filter_map(|(event, d)| match d {
            Decoded::Order(id, e) => Some((*id, *event, e)),
            _ => None,
        })
    };
    let load = TouchedOrders::<FoldedOrder>::to_load(order_events());
    let mut orders = TouchedOrders::new(rows::load(tx, generation, &load).await?);
    let mut names = CustomerNames::default();
    for (id, event, e) in order_events() {
        orders.fold(id, event, e);
    }
    for (_, d) in &decoded {
        if let Decoded::Customer(id, e) = d {
            names.record(*id, e);
        }
    }
    names.load(tx, generation, &orders).await?;
    names.write(tx, generation).await?;
    rows::write(tx, generation, &orders, &names).await
}
