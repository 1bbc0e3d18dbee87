//! The read models of the order platform. Each one is an [`eventstore::projection::Projection`]
//! with its own tables (migration `0004_read_models.sql`); every row carries the `generation`
//! it belongs to, so the runner can rebuild generation `g + 1` beside the live `g`.
//!
//! Events are decoded with the domain's `DomainEvent::from_data` (the store has already upcast
//! them to today's shape). An event a projection cannot read is an error: the runner rolls the
//! batch back, retries and faults that projection only.

mod activity;
mod catalog;
mod dashboard;
mod orders;

use std::sync::Arc;

use anyhow::Context as _;
use domain::aggregate::{Aggregate, DomainEvent, parse_stream_id};
use eventstore::RecordedEvent;
use eventstore::placeholders::Placeholders;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use uuid::Uuid;

pub use activity::{ACTIVITY_KEEP, ActivityProjection};
pub use catalog::{CustomersProjection, ProductsProjection};
pub use dashboard::{DashboardProjection, MINUTE_US};
pub use orders::OrdersProjection;

/// Name of the order summaries/details projection (checkpoint key, `projections.name`).
pub const ORDERS: &str = "orders";
/// Name of the customers projection.
pub const CUSTOMERS: &str = "customers";
/// Name of the product catalog projection.
pub const PRODUCTS: &str = "products";
/// Name of the dashboard statistics projection.
pub const DASHBOARD: &str = "dashboard";
/// Name of the activity feed projection.
pub const ACTIVITY: &str = "activity";

/// Every read model of the platform, to register with the projection runner.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(OrdersProjection),
        Arc::new(CustomersProjection),
        Arc::new(ProductsProjection),
        Arc::new(DashboardProjection),
        Arc::new(ActivityProjection),
    ]
}

/// The event as aggregate `A`'s event, with the aggregate id from its stream id; `None` when the
/// event belongs to another aggregate type.
pub(crate) fn decode<A: Aggregate>(
    event: &RecordedEvent,
) -> anyhow::Result<Option<(Uuid, A::Event)>> {
    if event.stream_type != A::STREAM_TYPE {
        return Ok(None);
    }
    let id = parse_stream_id::<A>(&event.stream_id).with_context(|| {
        format!(
            "stream id {:?} is not a {} stream id",
            event.stream_id,
            A::STREAM_TYPE
        )
    })?;
    let decoded = A::Event::from_data(&event.event_type, &event.data).with_context(|| {
        format!(
            "cannot read {} v{} at position {} ({})",
            event.event_type, event.schema_version, event.position, event.stream_id
        )
    })?;
    Ok(Some((id, decoded)))
}

/// Rows per multi-row statement of a batch apply (at most 8 parameters per row here: far below
/// SQLite's and PostgreSQL's parameter limits).
pub(crate) const INSERT_CHUNK: usize = 500;

/// `{head}(p, .., p), (p, ..), ..{tail}`: a multi-row `values` list of `rows` rows of `width`
/// parameters each, in bind order, in the placeholder style of the backend `conn` talks to (see
/// [`eventstore::placeholders`]).
pub(crate) fn values_sql(
    conn: &AnyConnection,
    head: &str,
    rows: usize,
    width: usize,
    tail: &str,
) -> String {
    let values = Placeholders::for_connection(conn).rows(rows, width);
    format!("{head}{values}{tail}")
}

/// The event's recorded time in microseconds since the epoch (the `*_at_us` columns).
pub(crate) fn at_us(event: &RecordedEvent) -> i64 {
    event.recorded_at.timestamp_micros()
}

/// `Money`/`Quantity` values as the i64 the tables store.
pub(crate) fn qty(q: domain::values::Quantity) -> i64 {
    i64::from(q.get())
}

pub(crate) use domain::ids::short_id;
