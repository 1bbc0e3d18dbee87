//! Queries of the `orders` read model (`rm_orders`, `rm_order_lines`): the order list, filtered
//! and keyset-paged, one order's detail, and the summaries the live hub pushes.

use domain::order::OrderStatus;
use domain::views::{Fresh, OrderDetail, OrderPage, OrderSummary};
use eventstore::placeholders::Placeholders;
use eventstore::projection::LIVE_GENERATION;
use sqlx::AnyConnection;
use tracing::instrument;
use uuid::Uuid;

use super::cursor::OrderCursor;
use super::rows::{self, FromAnyRow as _, Rows};
use super::{QueryError, QueryResult, QueryService};
use crate::projections::ORDERS;

/// Page size of the order list when the caller gives none.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page of the order list.
pub const MAX_LIMIT: u32 = 100;

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

const SUMMARY_COLUMNS: &str = "order_id, customer_id, customer_name, status, item_count, \
     total_cents, created_at_us, updated_at_us, version";

impl QueryService {
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
        // `$1` is the projection's name (in `LIVE_GENERATION`); the filters follow.
        let mut sql =
            format!("select {SUMMARY_COLUMNS} from rm_orders where generation = {LIVE_GENERATION}");
        let mut n = 1;
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
        let mut query = sqlx::query(&sql).bind(ORDERS);
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
        let generation: Option<i64> = sqlx::query_scalar(&format!("select {LIVE_GENERATION}"))
            .bind(ORDERS)
            .fetch_one(&mut *conn)
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
    let mut p = Placeholders::for_connection(conn);
    let sql = format!(
        "select {SUMMARY_COLUMNS} from rm_orders where generation = {} and order_id in ({}) \
         order by created_at_us desc, order_id desc",
        p.param(),
        p.list(order_ids.len())
    );
    let mut query = sqlx::query(&sql).bind(generation);
    for id in order_ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    Rows::decode(ORDERS, &rows)
}
