//! Projection `orders`: order summaries (the list) and details (lines, shipping, cancellation),
//! with the customer name kept current.

use anyhow::Context as _;
use async_trait::async_trait;
use domain::aggregate::Aggregate as _;
use domain::customer::{Customer, CustomerEvent};
use domain::order::{Order, OrderEvent, OrderStatus};
use eventstore::RecordedEvent;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::{instrument, warn};
use uuid::Uuid;

use super::{ORDERS, at_us, decode, qty};

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
        if let Some((order_id, e)) = decode::<Order>(event)? {
            apply_order(tx, generation, event, order_id, e).await
        } else if let Some((customer_id, e)) = decode::<Customer>(event)? {
            apply_customer(tx, generation, customer_id, e).await
        } else {
            Ok(())
        }
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        for table in ["rm_orders", "rm_order_lines", "rm_order_customers"] {
            sqlx::query(&format!("delete from {table} where generation = $1"))
                .bind(generation)
                .execute(&mut *conn)
                .await
                .with_context(|| format!("dropping generation {generation} of {table}"))?;
        }
        Ok(())
    }
}

async fn apply_customer(
    tx: &mut AnyConnection,
    generation: i64,
    customer_id: Uuid,
    event: CustomerEvent,
) -> anyhow::Result<()> {
    let name = match event {
        CustomerEvent::Registered(e) => e.name,
        CustomerEvent::Renamed(e) => e.name,
        CustomerEvent::EmailChanged(_) => return Ok(()),
    };
    sqlx::query(
        "insert into rm_order_customers (generation, customer_id, name) values ($1, $2, $3) \
         on conflict (generation, customer_id) do update set name = excluded.name",
    )
    .bind(generation)
    .bind(customer_id.to_string())
    .bind(name.as_str())
    .execute(&mut *tx)
    .await
    .context("saving customer name")?;
    sqlx::query(
        "update rm_orders set customer_name = $3 where generation = $1 and customer_id = $2",
    )
    .bind(generation)
    .bind(customer_id.to_string())
    .bind(name.as_str())
    .execute(&mut *tx)
    .await
    .context("renaming the customer on their orders")?;
    Ok(())
}

async fn apply_order(
    tx: &mut AnyConnection,
    generation: i64,
    event: &RecordedEvent,
    order_id: Uuid,
    e: OrderEvent,
) -> anyhow::Result<()> {
    let id = order_id.to_string();
    let at = at_us(event);
    let updated = match e {
        OrderEvent::Placed(p) => {
            // The current name if this projection knows the customer (a rename may have
            // committed between the command reading the name and the order being stored).
            let known: Option<String> = sqlx::query_scalar(
                "select name from rm_order_customers where generation = $1 and customer_id = $2",
            )
            .bind(generation)
            .bind(p.customer_id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .context("reading the customer name")?;
            let name = known.unwrap_or_else(|| p.customer_name.as_str().to_owned());
            sqlx::query(
                "insert into rm_orders (generation, order_id, customer_id, customer_name, status, \
                 item_count, total_cents, created_at_us, updated_at_us, version) \
                 values ($1, $2, $3, $4, $5, 0, 0, $6, $6, $7)",
            )
            .bind(generation)
            .bind(&id)
            .bind(p.customer_id.to_string())
            .bind(name)
            .bind(OrderStatus::Draft.as_str())
            .bind(at)
            .bind(event.version)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("inserting order {id}"))?;
            return Ok(());
        }
        OrderEvent::ItemAdded(a) => {
            sqlx::query(
                "insert into rm_order_lines (generation, order_id, product_id, added_position, \
                 sku, product_name, unit_price_cents, quantity) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(generation)
            .bind(&id)
            .bind(a.product_id.to_string())
            .bind(event.position)
            .bind(a.sku.as_str())
            .bind(a.product_name.as_str())
            .bind(a.unit_price.cents())
            .bind(qty(a.quantity))
            .execute(&mut *tx)
            .await
            .context("inserting order line")?;
            recompute_totals(tx, generation, &id, at, event.version).await?
        }
        OrderEvent::ItemRemoved(r) => {
            sqlx::query(
                "delete from rm_order_lines where generation = $1 and order_id = $2 \
                 and product_id = $3",
            )
            .bind(generation)
            .bind(&id)
            .bind(r.product_id.to_string())
            .execute(&mut *tx)
            .await
            .context("deleting order line")?;
            recompute_totals(tx, generation, &id, at, event.version).await?
        }
        OrderEvent::ItemQuantityChanged(c) => {
            sqlx::query(
                "update rm_order_lines set quantity = $4 where generation = $1 and order_id = $2 \
                 and product_id = $3",
            )
            .bind(generation)
            .bind(&id)
            .bind(c.product_id.to_string())
            .bind(qty(c.quantity))
            .execute(&mut *tx)
            .await
            .context("updating line quantity")?;
            recompute_totals(tx, generation, &id, at, event.version).await?
        }
        OrderEvent::Confirmed(c) => {
            // The event states the frozen totals; they equal the lines' sums.
            sqlx::query(
                "update rm_orders set updated_at_us = $3, version = $4, status = $5, \
                 total_cents = $6, item_count = $7 where generation = $1 and order_id = $2",
            )
            .bind(generation)
            .bind(&id)
            .bind(at)
            .bind(event.version)
            .bind(OrderStatus::Confirmed.as_str())
            .bind(c.total.cents())
            .bind(i64::from(c.item_count))
            .execute(&mut *tx)
            .await
            .context("confirming order")?
        }
        OrderEvent::Shipped(s) => sqlx::query(
            "update rm_orders set updated_at_us = $3, version = $4, status = $5, \
                 carrier = $6, tracking_number = $7 where generation = $1 and order_id = $2",
        )
        .bind(generation)
        .bind(&id)
        .bind(at)
        .bind(event.version)
        .bind(OrderStatus::Shipped.as_str())
        .bind(s.carrier.as_str())
        .bind(s.tracking_number.as_str())
        .execute(&mut *tx)
        .await
        .context("shipping order")?,
        OrderEvent::Delivered(_) => sqlx::query(
            "update rm_orders set updated_at_us = $3, version = $4, status = $5 \
             where generation = $1 and order_id = $2",
        )
        .bind(generation)
        .bind(&id)
        .bind(at)
        .bind(event.version)
        .bind(OrderStatus::Delivered.as_str())
        .execute(&mut *tx)
        .await
        .context("delivering order")?,
        OrderEvent::Cancelled(c) => sqlx::query(
            "update rm_orders set updated_at_us = $3, version = $4, status = $5, \
                 cancel_reason = $6 where generation = $1 and order_id = $2",
        )
        .bind(generation)
        .bind(&id)
        .bind(at)
        .bind(event.version)
        .bind(OrderStatus::Cancelled.as_str())
        .bind(c.reason.as_str())
        .execute(&mut *tx)
        .await
        .context("cancelling order")?,
    };
    let touched = updated.rows_affected();
    if touched == 0 {
        // Only possible when an operator skipped this order's (poison) OrderPlaced: keep going
        // rather than faulting again on every later event of the order.
        warn!(order_id = %id, position = event.position, "event for an order the read model does not hold");
    }
    Ok(())
}

/// Item count and total of a draft from its lines (a draft's totals are not in its events).
async fn recompute_totals(
    tx: &mut AnyConnection,
    generation: i64,
    id: &str,
    at: i64,
    version: i64,
) -> anyhow::Result<sqlx::any::AnyQueryResult> {
    let done = sqlx::query(
        "update rm_orders set updated_at_us = $3, version = $4, \
         item_count = (select coalesce(sum(l.quantity), 0) from rm_order_lines l \
                       where l.generation = $1 and l.order_id = $2), \
         total_cents = (select coalesce(sum(l.quantity * l.unit_price_cents), 0) \
                        from rm_order_lines l where l.generation = $1 and l.order_id = $2) \
         where generation = $1 and order_id = $2",
    )
    .bind(generation)
    .bind(id)
    .bind(at)
    .bind(version)
    .execute(&mut *tx)
    .await
    .with_context(|| format!("recomputing totals of order {id}"))?;
    Ok(done)
}
