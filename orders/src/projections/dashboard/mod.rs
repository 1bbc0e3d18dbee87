//! Projection `dashboard`: small fact tables (order status and total, line quantities, product
//! names, placements per minute) that the query aggregates. The only counter is placements per
//! minute (`minutes.rs`), pruned at positions fixed by the log, so the live model equals a
//! replay (checked by the replay tests).
//!
//! Orders fold through the domain's own `Order::evolve` (`fold.rs`), as in the `orders` model,
//! so adding an order event type is a domain change (plus a column if the dashboard shows its
//! data), not an edit here; `rows.rs` maps the folded state to `rm_dash_orders`/`rm_dash_lines`
//! and back. A batch reads the orders it touches once, folds its events in memory and writes
//! each order once; a single event is a batch of one, so the runner's event-by-event fallback
//! and a replay leave the same rows as a catch-up.

mod fold;
mod minutes;
mod products;
mod rows;

use async_trait::async_trait;
use domain::aggregate::Aggregate as _;
use domain::order::Order;
use domain::product::Product;
use eventstore::RecordedEvent;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::instrument;

use super::touched::TouchedOrders;
use super::{DASHBOARD, GenerationTable, decode};
use fold::FoldedOrder;

/// The tables of a generation.
const TABLES: &[GenerationTable] = &[
    GenerationTable {
        name: "rm_dash_orders",
        key: "order_id",
    },
    GenerationTable {
        name: "rm_dash_lines",
        key: "order_id, product_id",
    },
    GenerationTable {
        name: "rm_dash_product_names",
        key: "product_id",
    },
    GenerationTable {
        name: "rm_dash_minutes",
        key: "minute",
    },
];
pub use minutes::MINUTE_US;
use minutes::MinuteCounts;
use products::ProductNames;

/// See the module docs. Tables: `rm_dash_orders`, `rm_dash_lines`, `rm_dash_product_names`,
/// `rm_dash_minutes`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DashboardProjection;

#[async_trait]
impl Projection for DashboardProjection {
    fn name(&self) -> &'static str {
        DASHBOARD
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        event.stream_type == Order::STREAM_TYPE || event.stream_type == Product::STREAM_TYPE
    }

    #[instrument(name = "projection.dashboard", skip_all, fields(generation = generation, position = event.position, event_type = %event.event_type))]
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        apply_events(tx, generation, &[event]).await
    }

    #[instrument(name = "projection.dashboard.batch", skip_all, fields(generation = generation, events = events.len()))]
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

/// `events` in log order: read the touched orders, fold, write orders, names and minutes.
async fn apply_events(
    tx: &mut AnyConnection,
    generation: i64,
    events: &[&RecordedEvent],
) -> anyhow::Result<()> {
    let mut order_events = Vec::new();
    let mut products = ProductNames::default();
    for event in events {
        if let Some((order_id, e)) = decode::<Order>(event)? {
            order_events.push((order_id, *event, e));
        } else if let Some((product_id, e)) = decode::<Product>(event)? {
            products.record(product_id, &e);
        }
    }
    let load = TouchedOrders::<FoldedOrder>::to_load(
        order_events.iter().map(|(id, event, e)| (*id, *event, e)),
    );
    let mut orders = TouchedOrders::new(rows::load(tx, generation, &load).await?);
    let mut minutes = MinuteCounts::default();
    for (order_id, event, e) in &order_events {
        if orders.fold(*order_id, event, e) {
            minutes.count(event);
        }
    }
    rows::write(tx, generation, &orders).await?;
    products.write(tx, generation).await?;
    minutes.flush(tx, generation).await
}
