//! Queries of the `dashboard` read model: the statistics, aggregated at query time from its
//! small fact tables (`rm_dash_orders`, `rm_dash_lines`, `rm_dash_product_names`,
//! `rm_dash_minutes`).

use chrono::{DateTime, Utc};
use domain::order::OrderStatus;
use domain::views::{DashboardStats, Fresh, StatusCount, TopProduct};
use eventstore::projection::LIVE_GENERATION;
use sqlx::AnyConnection;
use tracing::instrument;

use super::rows;
use super::{QueryError, QueryResult, QueryService};
use crate::projections::{DASHBOARD, MINUTE_US};

/// Minutes in the placements-per-minute chart.
const CHART_MINUTES: i64 = 60;
/// 2^32: revenue is summed as `total / HALF` and `total % HALF` (see [`dashboard_stats`]).
const HALF: i64 = 1 << 32;

impl QueryService {
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
            .div_euclid(MINUTE_US);
        let mut conn = self.conn().await?;
        let data = dashboard_stats(&mut conn, now_minute).await?;
        Ok(Fresh {
            data,
            position,
            stale,
        })
    }
}

/// Every statement binds the projection's name as `$1` (in [`LIVE_GENERATION`]).
async fn dashboard_stats(conn: &mut AnyConnection, now_minute: i64) -> QueryResult<DashboardStats> {
    // Revenue is summed in two halves, so the SQL sums cannot overflow whatever the totals
    // (an order stored before prices were bounded may hold nearly `i64::MAX`): each total's
    // high part (`total / 2^32`, below 2^31) and low part (below 2^32) are summed apart (no
    // overflow under 2^31 orders) and joined in `i128`. Casts to bigint: PostgreSQL's
    // sum(bigint) is numeric, which `Any` cannot read.
    let by_status: Vec<(String, i64, i64, i64)> = sqlx::query_as(&format!(
        "select status, count(*), \
                cast(coalesce(sum(total_cents / {HALF}), 0) as bigint), \
                cast(coalesce(sum(total_cents % {HALF}), 0) as bigint) \
         from rm_dash_orders where generation = {LIVE_GENERATION} group by status"
    ))
    .bind(DASHBOARD)
    .fetch_all(&mut *conn)
    .await?;
    let mut orders_by_status: Vec<StatusCount> = OrderStatus::ALL
        .into_iter()
        .map(|status| StatusCount { status, count: 0 })
        .collect();
    let (mut revenue, mut revenue_orders) = (0_i128, 0_i128);
    for (status, count, high, low) in by_status {
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
            revenue = revenue.saturating_add(
                i128::from(high)
                    .saturating_mul(i128::from(HALF))
                    .saturating_add(i128::from(low)),
            );
            revenue_orders += i128::from(count);
        }
    }
    // Exact in `i128`; shown clamped to what the view's `i64` holds.
    let revenue_cents = i64::try_from(revenue).unwrap_or(i64::MAX);
    let average_order_cents = if revenue_orders == 0 {
        0
    } else {
        i64::try_from(revenue / revenue_orders).unwrap_or(i64::MAX)
    };

    let first_minute = now_minute - (CHART_MINUTES - 1);
    let minutes: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "select minute, placed from rm_dash_minutes \
         where generation = {LIVE_GENERATION} and minute >= $2 and minute <= $3"
    ))
    .bind(DASHBOARD)
    .bind(first_minute)
    .bind(now_minute)
    .fetch_all(&mut *conn)
    .await?;
    let mut orders_per_minute = vec![0_i64; CHART_MINUTES as usize];
    for (minute, placed) in minutes {
        if let Some(slot) = usize::try_from(minute - first_minute)
            .ok()
            .and_then(|i| orders_per_minute.get_mut(i))
        {
            *slot = placed;
        }
    }

    // Quantities are at most `Quantity::MAX` (10,000) a line: this sum cannot overflow before
    // some 9 * 10^14 lines.
    let top: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "select l.product_id, coalesce(max(n.name), max(l.product_name)), \
                cast(sum(l.quantity) as bigint) as qty \
         from rm_dash_lines l \
         join rm_dash_orders o on o.generation = l.generation and o.order_id = l.order_id \
         left join rm_dash_product_names n \
                on n.generation = l.generation and n.product_id = l.product_id \
         where l.generation = {LIVE_GENERATION} and o.status <> $2 \
         group by l.product_id order by qty desc, l.product_id limit 5"
    ))
    .bind(DASHBOARD)
    .bind(OrderStatus::Cancelled.as_str())
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
