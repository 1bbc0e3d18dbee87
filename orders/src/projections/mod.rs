//! The read models of the order platform. Each one is an [`eventstore::projection::Projection`]
//! with its own tables (migration `0004_read_models.sql`); every row carries the `generation`
//! it belongs to, so the runner can rebuild generation `g + 1` beside the live `g`.
//!
//! Events are decoded with the domain's `DomainEvent::from_data` (the store has already upcast
//! them to today's shape). An event a projection cannot read is an error: the runner rolls the
//! batch back, retries and faults that projection only.
//!
//! The two read models that show orders (`orders`, `dashboard`) read each order a batch touches
//! once, fold the batch in memory and write each order once (`touched.rs`); the `orders` model
//! folds through the domain's own `Order::evolve`. This file holds what every projection shares:
//! the names, event decoding and the multi-row statement helpers.

mod activity;
mod catalog;
mod dashboard;
mod orders;
mod touched;
mod users;

use std::sync::Arc;

use anyhow::Context as _;
use domain::aggregate::{Aggregate, DomainEvent, parse_stream_id};
use domain::live::ProjectionName;
use eventstore::RecordedEvent;
use eventstore::placeholders::Placeholders;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use uuid::Uuid;

pub use activity::{ACTIVITY_KEEP, ActivityProjection};
pub use catalog::{CustomersProjection, ProductsProjection};
pub use dashboard::{DashboardProjection, MINUTE_US};
pub use orders::OrdersProjection;
pub use users::UsersProjection;

/// Name of the order summaries/details projection (checkpoint key, `projections.name`). The
/// names are [`ProjectionName`]'s, shared with the live contract and the browser.
pub const ORDERS: &str = ProjectionName::Orders.name();
/// Name of the customers projection.
pub const CUSTOMERS: &str = ProjectionName::Customers.name();
/// Name of the product catalog projection.
pub const PRODUCTS: &str = ProjectionName::Products.name();
/// Name of the dashboard statistics projection.
pub const DASHBOARD: &str = ProjectionName::Dashboard.name();
/// Name of the activity feed projection.
pub const ACTIVITY: &str = ProjectionName::Activity.name();
/// Name of the accounts projection (the admins' user list).
pub const USERS: &str = ProjectionName::Users.name();

/// Every read model of the platform, to register with the projection runner.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(OrdersProjection),
        Arc::new(CustomersProjection),
        Arc::new(ProductsProjection),
        Arc::new(DashboardProjection),
        Arc::new(ActivityProjection),
        Arc::new(UsersProjection),
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

/// Rows per multi-row statement of a batch apply (at most 13 parameters per row here: far below
/// SQLite's and PostgreSQL's parameter limits).
const INSERT_CHUNK: usize = 500;

/// A statement being built on the `Any` driver.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Writes `rows` with multi-row statements `{head}(p, .., p), (p, ..){tail}` of at most
/// [`INSERT_CHUNK`] rows; `bind` binds one row's `width` parameters in column order. Placeholders
/// are in the style of the backend `tx` talks to (see [`eventstore::placeholders`]).
pub(crate) async fn write_rows<T>(
    tx: &mut AnyConnection,
    head: &str,
    width: usize,
    tail: &str,
    rows: &[T],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        let values = Placeholders::for_connection(tx).rows(chunk.len(), width);
        let statement = format!("{head}{values}{tail}");
        let query = chunk.iter().fold(sqlx::query(&statement), &bind);
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// The rows of `{select} where generation = ? and {key} in (?, ..)` for `ids` (one statement per
/// [`INSERT_CHUNK`] ids): reads back what a batch's rows were before it.
pub(crate) async fn fetch_in(
    tx: &mut AnyConnection,
    select: &str,
    key: &str,
    generation: i64,
    ids: &[Uuid],
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        let mut p = Placeholders::for_connection(tx);
        let statement = format!(
            "{select} where generation = {} and {key} in ({})",
            p.param(),
            p.list(chunk.len())
        );
        let query = chunk
            .iter()
            .fold(sqlx::query(&statement).bind(generation), |query, id| {
                query.bind(id.to_string())
            });
        rows.extend(query.fetch_all(&mut *tx).await?);
    }
    Ok(rows)
}

/// A read-model table of one projection: its name and the primary key columns after
/// `generation` (comma-separated), which chunked deletes select by.
pub(crate) struct GenerationTable {
    pub(crate) name: &'static str,
    pub(crate) key: &'static str,
}

/// Deletes every row of `generation` from `tables` (a read model's `drop_generation`).
pub(crate) async fn drop_tables(
    conn: &mut AnyConnection,
    generation: i64,
    tables: &[GenerationTable],
) -> anyhow::Result<()> {
    for table in tables {
        sqlx::query(&format!("delete from {} where generation = $1", table.name))
            .bind(generation)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("dropping generation {generation} of {}", table.name))?;
    }
    Ok(())
}

/// Deletes at most `limit` rows of `generation` from `tables`, table after table (a read
/// model's `drop_generation_chunk`); answers how many, 0 when none is left. Each delete picks
/// its rows by primary key (the tables are `without rowid` on SQLite), with the same SQL on
/// both backends.
pub(crate) async fn drop_tables_chunk(
    conn: &mut AnyConnection,
    generation: i64,
    tables: &[GenerationTable],
    limit: u64,
) -> anyhow::Result<u64> {
    let mut deleted = 0_u64;
    for table in tables {
        let left = limit.saturating_sub(deleted);
        if left == 0 {
            break;
        }
        let (name, key) = (table.name, table.key);
        let done = sqlx::query(&format!(
            "delete from {name} where generation = $1 and ({key}) in \
             (select {key} from {name} where generation = $1 limit $2)"
        ))
        .bind(generation)
        .bind(i64::try_from(left).unwrap_or(i64::MAX))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("dropping rows of generation {generation} of {name}"))?;
        deleted += done.rows_affected();
    }
    Ok(deleted)
}

/// Deletes the rows of `table` whose `key` is one of `ids`, in `generation`.
pub(crate) async fn delete_in(
    tx: &mut AnyConnection,
    table: &str,
    key: &str,
    generation: i64,
    ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(INSERT_CHUNK) {
        let mut p = Placeholders::for_connection(tx);
        let statement = format!(
            "delete from {table} where generation = {} and {key} in ({})",
            p.param(),
            p.list(chunk.len())
        );
        let query = chunk
            .iter()
            .fold(sqlx::query(&statement).bind(generation), |query, id| {
                query.bind(id.to_string())
            });
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// A column of a row read back, with the column named in the error.
pub(crate) fn column<'r, T>(row: &'r AnyRow, name: &str) -> anyhow::Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row as _;
    row.try_get(name)
        .with_context(|| format!("reading column {name}"))
}

/// A UUID column of a row read back.
pub(crate) fn uuid_column(row: &AnyRow, name: &str) -> anyhow::Result<Uuid> {
    let text: String = column(row, name)?;
    Uuid::parse_str(&text).with_context(|| format!("column {name} holds {text:?}, not an id"))
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
