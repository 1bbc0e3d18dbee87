//! Projection `dashboard`: small fact tables (order status and total, line quantities, product
//! names, placements per minute) that the query aggregates. No running counters: the live model
//! equals a replay by construction.

use anyhow::Context as _;
use async_trait::async_trait;
use domain::aggregate::Aggregate as _;
use domain::order::{Order, OrderEvent, OrderStatus};
use domain::product::{Product, ProductEvent};
use eventstore::RecordedEvent;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::instrument;

use super::{DASHBOARD, at_us, decode, qty};

/// Microseconds per minute: `minute = recorded_at_us / MINUTE_US`.
pub const MINUTE_US: i64 = 60_000_000;
/// Minutes of placements kept behind the newest one (the dashboard shows 60).
const KEEP_MINUTES: i64 = 120;
/// Old minutes are pruned on placements at positions that are multiples of this.
const PRUNE_EVERY: i64 = 16;

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
        if let Some((order_id, e)) = decode::<Order>(event)? {
            apply_order(tx, generation, event, &order_id.to_string(), e)
                .await
                .with_context(|| format!("applying {} to order {order_id}", event.event_type))
        } else if let Some((product_id, e)) = decode::<Product>(event)? {
            let name = match e {
                ProductEvent::Created(c) => c.name,
                ProductEvent::Renamed(r) => r.name,
                ProductEvent::Repriced(_) | ProductEvent::Discontinued(_) => return Ok(()),
            };
            sqlx::query(
                "insert into rm_dash_product_names (generation, product_id, name) \
                 values ($1, $2, $3) \
                 on conflict (generation, product_id) do update set name = excluded.name",
            )
            .bind(generation)
            .bind(product_id.to_string())
            .bind(name.as_str())
            .execute(&mut *tx)
            .await
            .context("saving product name")?;
            Ok(())
        } else {
            Ok(())
        }
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        for table in [
            "rm_dash_orders",
            "rm_dash_lines",
            "rm_dash_product_names",
            "rm_dash_minutes",
        ] {
            sqlx::query(&format!("delete from {table} where generation = $1"))
                .bind(generation)
                .execute(&mut *conn)
                .await
                .with_context(|| format!("dropping generation {generation} of {table}"))?;
        }
        Ok(())
    }
}

async fn apply_order(
    tx: &mut AnyConnection,
    generation: i64,
    event: &RecordedEvent,
    id: &str,
    e: OrderEvent,
) -> anyhow::Result<()> {
    match e {
        OrderEvent::Placed(_) => {
            sqlx::query(
                "insert into rm_dash_orders (generation, order_id, status, total_cents) \
                 values ($1, $2, $3, 0)",
            )
            .bind(generation)
            .bind(id)
            .bind(OrderStatus::Draft.as_str())
            .execute(&mut *tx)
            .await?;
            let minute = at_us(event).div_euclid(MINUTE_US);
            sqlx::query(
                "insert into rm_dash_minutes (generation, minute, placed) values ($1, $2, 1) \
                 on conflict (generation, minute) do update \
                 set placed = rm_dash_minutes.placed + 1",
            )
            .bind(generation)
            .bind(minute)
            .execute(&mut *tx)
            .await?;
            // Pruning depends on the position only, so a replay prunes at the same points.
            if event.position % PRUNE_EVERY == 0 {
                sqlx::query("delete from rm_dash_minutes where generation = $1 and minute < $2")
                    .bind(generation)
                    .bind(minute - KEEP_MINUTES)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        OrderEvent::ItemAdded(a) => {
            sqlx::query(
                "insert into rm_dash_lines (generation, order_id, product_id, product_name, \
                 quantity) values ($1, $2, $3, $4, $5)",
            )
            .bind(generation)
            .bind(id)
            .bind(a.product_id.to_string())
            .bind(a.product_name.as_str())
            .bind(qty(a.quantity))
            .execute(&mut *tx)
            .await?;
        }
        OrderEvent::ItemRemoved(r) => {
            sqlx::query(
                "delete from rm_dash_lines where generation = $1 and order_id = $2 \
                 and product_id = $3",
            )
            .bind(generation)
            .bind(id)
            .bind(r.product_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        OrderEvent::ItemQuantityChanged(c) => {
            sqlx::query(
                "update rm_dash_lines set quantity = $4 where generation = $1 \
                 and order_id = $2 and product_id = $3",
            )
            .bind(generation)
            .bind(id)
            .bind(c.product_id.to_string())
            .bind(qty(c.quantity))
            .execute(&mut *tx)
            .await?;
        }
        OrderEvent::Confirmed(c) => {
            sqlx::query(
                "update rm_dash_orders set status = $3, total_cents = $4 \
                 where generation = $1 and order_id = $2",
            )
            .bind(generation)
            .bind(id)
            .bind(OrderStatus::Confirmed.as_str())
            .bind(c.total.cents())
            .execute(&mut *tx)
            .await?;
        }
        OrderEvent::Shipped(_) => set_status(tx, generation, id, OrderStatus::Shipped).await?,
        OrderEvent::Delivered(_) => set_status(tx, generation, id, OrderStatus::Delivered).await?,
        OrderEvent::Cancelled(_) => set_status(tx, generation, id, OrderStatus::Cancelled).await?,
    }
    Ok(())
}

async fn set_status(
    tx: &mut AnyConnection,
    generation: i64,
    id: &str,
    status: OrderStatus,
) -> anyhow::Result<()> {
    sqlx::query("update rm_dash_orders set status = $3 where generation = $1 and order_id = $2")
        .bind(generation)
        .bind(id)
        .bind(status.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(())
}
