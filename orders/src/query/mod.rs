//! The read side: [`QueryService`] answers every query from the read-model tables only (never
//! the event tables), always from the live generation
//! (`where generation = (select generation from projections where name = '<projection>')`).
//!
//! Read-your-writes: every query takes `min_position` (the `position` a command replied with).
//! If the projection has not reached it, the query waits (via the runner's `wait_for`) up to
//! [`QueryConfig::wait_bound`] and then answers anyway, marked `stale`.

mod cursor;
mod rows;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::order::OrderStatus;
use domain::views::{
    ActivityEntry, CustomerView, DashboardStats, Fresh, OrderDetail, OrderPage, OrderSummary,
    ProductView, StatusCount, TopProduct,
};
use eventstore::Db;
use sqlx::AnyConnection;
use tracing::instrument;
use uuid::Uuid;

use crate::projections::{ACTIVITY, CUSTOMERS, DASHBOARD, ORDERS, PRODUCTS};

pub use cursor::OrderCursor;
use rows::{FromAnyRow, Rows};

/// Page size of the order list when the caller gives none.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page of the order list.
pub const MAX_LIMIT: u32 = 100;
/// Default bound on the read-your-writes wait.
pub const DEFAULT_WAIT_BOUND: Duration = Duration::from_secs(2);

/// What a query can fail with.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No such order / customer / product in the read model.
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The paging cursor was not produced by this service.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A read-model row could not be read back (bug or tampering).
    #[error("read model {projection} holds an invalid row: {reason}")]
    Corrupt {
        projection: &'static str,
        reason: String,
    },
    /// The projection runner could not report progress.
    #[error("projection progress unavailable: {0:#}")]
    Progress(anyhow::Error),
    #[error("storage error: {0}")]
    Storage(#[from] sqlx::Error),
}

pub type QueryResult<T> = Result<T, QueryError>;

/// How far projections are: implemented for the projection runner; tests may stub it.
#[async_trait]
pub trait Progress: Send + Sync + 'static {
    /// The position the live generation of `projection` has applied up to.
    async fn checkpoint(&self, projection: &str) -> anyhow::Result<i64>;
    /// Waits until the live generation of `projection` reached `position`, at most `timeout`.
    /// Returns whether it did.
    async fn wait_for(
        &self,
        projection: &str,
        position: i64,
        timeout: Duration,
    ) -> anyhow::Result<bool>;
}

/// Tunables of the query service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryConfig {
    /// Longest a query waits for `min_position` before answering stale.
    pub wait_bound: Duration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            wait_bound: DEFAULT_WAIT_BOUND,
        }
    }
}

/// Filter and page of the order list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<Uuid>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size; default [`DEFAULT_LIMIT`], clamped to `1..=MAX_LIMIT`.
    pub limit: Option<u32>,
}

/// Answers queries from the read models. Cheap to clone.
#[derive(Clone)]
pub struct QueryService {
    db: Db,
    progress: Arc<dyn Progress>,
    config: QueryConfig,
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryService")
            .field("db", &self.db)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The live generation of a projection, as a subquery (the projection name is a constant).
fn live(projection: &'static str) -> String {
    format!("(select generation from projections where name = '{projection}')")
}

const SUMMARY_COLUMNS: &str = "order_id, customer_id, customer_name, status, item_count, \
     total_cents, created_at_us, updated_at_us, version";

impl QueryService {
    pub fn new(db: Db, progress: Arc<dyn Progress>) -> Self {
        Self::with_config(db, progress, QueryConfig::default())
    }

    pub fn with_config(db: Db, progress: Arc<dyn Progress>, config: QueryConfig) -> Self {
        Self {
            db,
            progress,
            config,
        }
    }

    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// Waits for `min_position` (bounded), then reads the checkpoint the answer is at least as
    /// fresh as. The checkpoint is read BEFORE the data, so `position` is a lower bound.
    async fn freshness(
        &self,
        projection: &'static str,
        min_position: Option<i64>,
    ) -> QueryResult<(i64, bool)> {
        if let Some(min) = min_position {
            self.progress
                .wait_for(projection, min, self.config.wait_bound)
                .await
                .map_err(QueryError::Progress)?;
        }
        let position = self
            .progress
            .checkpoint(projection)
            .await
            .map_err(QueryError::Progress)?;
        let stale = min_position.is_some_and(|min| position < min);
        Ok((position, stale))
    }

    async fn conn(&self) -> QueryResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.db.pool().acquire().await?)
    }

    /// The order list, newest first, filtered and keyset-paged.
    #[instrument(name = "query.list_orders", skip(self), err)]
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<OrderPage>> {
        let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let after = filter
            .cursor
            .as_deref()
            .map(OrderCursor::decode)
            .transpose()?;
        let (position, stale) = self.freshness(ORDERS, min_position).await?;
        let mut sql = format!(
            "select {SUMMARY_COLUMNS} from rm_orders where generation = {}",
            live(ORDERS)
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if filter.status.is_some() {
            sql.push_str(&format!(" and status = ${}", next()));
        }
        if filter.customer_id.is_some() {
            sql.push_str(&format!(" and customer_id = ${}", next()));
        }
        if after.is_some() {
            let (a, b) = (next(), next());
            sql.push_str(&format!(
                " and (created_at_us < ${a} or (created_at_us = ${a} and order_id < ${b}))"
            ));
        }
        sql.push_str(&format!(
            " order by created_at_us desc, order_id desc limit ${}",
            next()
        ));
        let mut query = sqlx::query(&sql);
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(customer) = filter.customer_id {
            query = query.bind(customer.to_string());
        }
        if let Some(c) = &after {
            query = query.bind(c.created_at_us).bind(c.order_id.to_string());
        }
        query = query.bind(i64::from(limit) + 1);
        let mut conn = self.conn().await?;
        let rows = query.fetch_all(&mut *conn).await?;
        let mut orders: Vec<OrderSummary> = Rows::decode(ORDERS, &rows)?;
        let next_cursor = if orders.len() > limit as usize {
            orders.truncate(limit as usize);
            orders.last().map(|o| OrderCursor::of(o).encode())
        } else {
            None
        };
        Ok(Fresh {
            data: OrderPage {
                orders,
                next_cursor,
            },
            position,
            stale,
        })
    }

    /// One order with its lines.
    #[instrument(name = "query.get_order", skip(self), err)]
    pub async fn get_order(
        &self,
        order_id: Uuid,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<OrderDetail>> {
        let (position, stale) = self.freshness(ORDERS, min_position).await?;
        let mut conn = self.conn().await?;
        // One statement per table, both pinned to the generation read first: a swap between
        // them cannot mix generations.
        let generation: Option<i64> =
            sqlx::query_scalar("select generation from projections where name = $1")
                .bind(ORDERS)
                .fetch_optional(&mut *conn)
                .await?;
        let not_found = || QueryError::NotFound {
            entity: "order",
            id: order_id.to_string(),
        };
        let generation = generation.ok_or_else(not_found)?;
        let row = sqlx::query(&format!(
            "select {SUMMARY_COLUMNS}, carrier, tracking_number, cancel_reason \
             from rm_orders where generation = $1 and order_id = $2"
        ))
        .bind(generation)
        .bind(order_id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(not_found)?;
        let summary = OrderSummary::from_row(ORDERS, &row)?;
        let (carrier, tracking_number, cancel_reason) = rows::detail_extras(ORDERS, &row)?;
        let lines = sqlx::query(
            "select product_id, sku, product_name, unit_price_cents, quantity \
             from rm_order_lines where generation = $1 and order_id = $2 \
             order by added_position",
        )
        .bind(generation)
        .bind(order_id.to_string())
        .fetch_all(&mut *conn)
        .await?;
        Ok(Fresh {
            data: OrderDetail {
                summary,
                lines: Rows::decode(ORDERS, &lines)?,
                carrier,
                tracking_number,
                cancel_reason,
            },
            position,
            stale,
        })
    }

    /// Every customer, by name.
    #[instrument(name = "query.customers", skip(self), err)]
    pub async fn customers(
        &self,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<CustomerView>>> {
        self.customers_where(None, min_position).await
    }

    /// One customer.
    #[instrument(name = "query.get_customer", skip(self), err)]
    pub async fn get_customer(
        &self,
        customer_id: Uuid,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<CustomerView>> {
        let fresh = self
            .customers_where(Some(customer_id), min_position)
            .await?;
        single(fresh, "customer", customer_id)
    }

    async fn customers_where(
        &self,
        id: Option<Uuid>,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<CustomerView>>> {
        let (position, stale) = self.freshness(CUSTOMERS, min_position).await?;
        let sql = format!(
            "select customer_id, name, email, registered_at_us, version from rm_customers \
             where generation = {} and ($1 is null or customer_id = $1) \
             order by name, customer_id",
            live(CUSTOMERS)
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(id.map(|i| i.to_string()))
            .fetch_all(&mut *conn)
            .await?;
        Ok(Fresh {
            data: Rows::decode(CUSTOMERS, &rows)?,
            position,
            stale,
        })
    }

    /// The catalog, by SKU.
    #[instrument(name = "query.products", skip(self), err)]
    pub async fn products(
        &self,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<ProductView>>> {
        self.products_where(None, min_position).await
    }

    /// One product.
    #[instrument(name = "query.get_product", skip(self), err)]
    pub async fn get_product(
        &self,
        product_id: Uuid,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<ProductView>> {
        let fresh = self.products_where(Some(product_id), min_position).await?;
        single(fresh, "product", product_id)
    }

    async fn products_where(
        &self,
        id: Option<Uuid>,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<ProductView>>> {
        let (position, stale) = self.freshness(PRODUCTS, min_position).await?;
        let sql = format!(
            "select product_id, sku, name, price_cents, discontinued, version from rm_products \
             where generation = {} and ($1 is null or product_id = $1) \
             order by sku, product_id",
            live(PRODUCTS)
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(id.map(|i| i.to_string()))
            .fetch_all(&mut *conn)
            .await?;
        Ok(Fresh {
            data: Rows::decode(PRODUCTS, &rows)?,
            position,
            stale,
        })
    }

    /// Dashboard statistics; the 60 per-minute buckets end at the minute of `now` (default: the
    /// clock).
    #[instrument(name = "query.dashboard", skip(self), err)]
    pub async fn dashboard(
        &self,
        now: Option<DateTime<Utc>>,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<DashboardStats>> {
        let (position, stale) = self.freshness(DASHBOARD, min_position).await?;
        let now_minute = now
            .unwrap_or_else(Utc::now)
            .timestamp_micros()
            .div_euclid(crate::projections::MINUTE_US);
        let mut conn = self.conn().await?;
        let data = dashboard_stats(&mut conn, now_minute).await?;
        Ok(Fresh {
            data,
            position,
            stale,
        })
    }

    /// The activity feed, newest first (at most `limit`, default and max 100).
    #[instrument(name = "query.activity", skip(self), err)]
    pub async fn activity(
        &self,
        limit: Option<u32>,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<ActivityEntry>>> {
        let limit = limit
            .map_or(crate::projections::ACTIVITY_KEEP, i64::from)
            .clamp(1, crate::projections::ACTIVITY_KEEP);
        let (position, stale) = self.freshness(ACTIVITY, min_position).await?;
        let sql = format!(
            "select position, event_id, stream_id, event_type, text, at_us from rm_activity \
             where generation = {} order by position desc limit $1",
            live(ACTIVITY)
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&mut *conn).await?;
        Ok(Fresh {
            data: Rows::decode(ACTIVITY, &rows)?,
            position,
            stale,
        })
    }
}

fn single<T>(fresh: Fresh<Vec<T>>, entity: &'static str, id: Uuid) -> QueryResult<Fresh<T>> {
    let Fresh {
        data,
        position,
        stale,
    } = fresh;
    let data = data
        .into_iter()
        .next()
        .ok_or_else(|| QueryError::NotFound {
            entity,
            id: id.to_string(),
        })?;
    Ok(Fresh {
        data,
        position,
        stale,
    })
}

/// Order summaries of `generation` for the given ids (the live hub's payload), newest first.
pub async fn summaries_of(
    conn: &mut AnyConnection,
    generation: i64,
    order_ids: &[Uuid],
) -> QueryResult<Vec<OrderSummary>> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (2..order_ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!(
        "select {SUMMARY_COLUMNS} from rm_orders where generation = $1 and order_id in ({}) \
         order by created_at_us desc, order_id desc",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(generation);
    for id in order_ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Rows::decode(ORDERS, &rows)
}

async fn dashboard_stats(conn: &mut AnyConnection, now_minute: i64) -> QueryResult<DashboardStats> {
    let g = live(DASHBOARD);
    // Sums are cast to bigint: PostgreSQL's sum(bigint) is numeric, which `Any` cannot read.
    let by_status: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
        "select status, count(*), cast(coalesce(sum(total_cents), 0) as bigint) \
         from rm_dash_orders where generation = {g} group by status"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut orders_by_status: Vec<StatusCount> = OrderStatus::ALL
        .into_iter()
        .map(|status| StatusCount { status, count: 0 })
        .collect();
    let (mut revenue_cents, mut revenue_orders) = (0_i64, 0_i64);
    for (status, count, total) in by_status {
        let status: OrderStatus = status.parse().map_err(|e| QueryError::Corrupt {
            projection: DASHBOARD,
            reason: format!("{e}"),
        })?;
        if let Some(slot) = orders_by_status.iter_mut().find(|s| s.status == status) {
            slot.count = count;
        }
        if matches!(
            status,
            OrderStatus::Confirmed | OrderStatus::Shipped | OrderStatus::Delivered
        ) {
            revenue_cents = revenue_cents.saturating_add(total);
            revenue_orders += count;
        }
    }
    let average_order_cents = if revenue_orders == 0 {
        0
    } else {
        revenue_cents / revenue_orders
    };

    let first_minute = now_minute - 59;
    let minutes: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "select minute, placed from rm_dash_minutes \
         where generation = {g} and minute >= $1 and minute <= $2"
    ))
    .bind(first_minute)
    .bind(now_minute)
    .fetch_all(&mut *conn)
    .await?;
    let mut orders_per_minute = vec![0_i64; 60];
    for (minute, placed) in minutes {
        if let Some(slot) = usize::try_from(minute - first_minute)
            .ok()
            .and_then(|i| orders_per_minute.get_mut(i))
        {
            *slot = placed;
        }
    }

    let top: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "select l.product_id, coalesce(max(n.name), max(l.product_name)), \
                cast(sum(l.quantity) as bigint) as qty \
         from rm_dash_lines l \
         join rm_dash_orders o on o.generation = l.generation and o.order_id = l.order_id \
         left join rm_dash_product_names n \
                on n.generation = l.generation and n.product_id = l.product_id \
         where l.generation = {g} and o.status <> 'cancelled' \
         group by l.product_id order by qty desc, l.product_id limit 5"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let top_products = top
        .into_iter()
        .map(|(id, name, quantity)| {
            Ok(TopProduct {
                product_id: rows::parse_uuid(DASHBOARD, &id)?,
                name,
                quantity,
            })
        })
        .collect::<QueryResult<Vec<_>>>()?;
    Ok(DashboardStats {
        orders_by_status,
        revenue_cents,
        average_order_cents,
        orders_per_minute,
        top_products,
    })
}

#[async_trait]
impl Progress for eventstore::projection::ProjectionRunner {
    async fn checkpoint(&self, projection: &str) -> anyhow::Result<i64> {
        Ok(eventstore::projection::ProjectionRunner::checkpoint(
            self, projection,
        )?)
    }

    async fn wait_for(
        &self,
        projection: &str,
        position: i64,
        timeout: Duration,
    ) -> anyhow::Result<bool> {
        Ok(
            eventstore::projection::ProjectionRunner::wait_for(self, projection, position, timeout)
                .await?,
        )
    }
}
