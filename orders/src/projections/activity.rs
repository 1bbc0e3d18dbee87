//! Projection `activity`: the last [`ACTIVITY_KEEP`] events of the log as readable sentences.
//!
//! Every event of the log yields exactly one row (events it cannot read get a generic sentence
//! rather than faulting the feed), so positions are contiguous and pruning by position keeps
//! the last 100 (plus at most `PRUNE_EVERY` not yet pruned; queries read 100).

use anyhow::Context as _;
use async_trait::async_trait;
use domain::customer::{Customer, CustomerEvent};
use domain::order::{Order, OrderEvent};
use domain::product::{Product, ProductEvent};
use eventstore::RecordedEvent;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::{instrument, warn};
use uuid::Uuid;

use super::{ACTIVITY, at_us, decode, short_id};

/// Rows the feed keeps.
pub const ACTIVITY_KEEP: i64 = 100;
/// Rows older than the last [`ACTIVITY_KEEP`] are deleted on events whose position is a
/// multiple of this (one delete per 25 events instead of one per event).
const PRUNE_EVERY: i64 = 25;

/// See the module docs. Tables: `rm_activity`, `rm_activity_products`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivityProjection;

#[async_trait]
impl Projection for ActivityProjection {
    fn name(&self) -> &'static str {
        ACTIVITY
    }

    // Handles every event (the default): each one yields a row, unknown ones a generic sentence.

    #[instrument(name = "projection.activity", skip_all, fields(generation = generation, position = event.position, event_type = %event.event_type))]
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        let text = match describe(tx, generation, event).await {
            Ok(Some(text)) => text,
            Ok(None) => generic(event),
            Err(e) if is_decode_error(event) => {
                warn!(error = %format!("{e:#}"), "activity: unreadable event, described generically");
                generic(event)
            }
            Err(e) => return Err(e),
        };
        sqlx::query(
            "insert into rm_activity (generation, position, event_id, stream_id, event_type, \
             text, at_us) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(generation)
        .bind(event.position)
        .bind(event.event_id.to_string())
        .bind(&event.stream_id)
        .bind(&event.event_type)
        .bind(text)
        .bind(at_us(event))
        .execute(&mut *tx)
        .await
        .context("inserting activity row")?;
        // Pruning depends on the position only (a replay prunes at the same points); between
        // prunes the table holds up to ACTIVITY_KEEP + PRUNE_EVERY rows, queries read 100.
        if event.position % PRUNE_EVERY == 0 {
            sqlx::query("delete from rm_activity where generation = $1 and position <= $2")
                .bind(generation)
                .bind(event.position - ACTIVITY_KEEP)
                .execute(&mut *tx)
                .await
                .context("pruning activity")?;
        }
        Ok(())
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        for table in ["rm_activity", "rm_activity_products"] {
            sqlx::query(&format!("delete from {table} where generation = $1"))
                .bind(generation)
                .execute(&mut *conn)
                .await
                .with_context(|| format!("dropping generation {generation} of {table}"))?;
        }
        Ok(())
    }
}

/// Whether decoding (not the database) is what fails for this event.
fn is_decode_error(event: &RecordedEvent) -> bool {
    decode::<Order>(event).is_err()
        || decode::<Customer>(event).is_err()
        || decode::<Product>(event).is_err()
}

fn generic(event: &RecordedEvent) -> String {
    format!("{} on {}", event.event_type, event.stream_id)
}

fn plural(n: u32, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The sentence for a known event; `None` for event types of no known aggregate.
async fn describe(
    tx: &mut AnyConnection,
    generation: i64,
    event: &RecordedEvent,
) -> anyhow::Result<Option<String>> {
    if let Some((id, e)) = decode::<Order>(event)? {
        let order = short_id(id);
        let text = match e {
            OrderEvent::Placed(p) => format!("Order {order} placed for {}", p.customer_name),
            OrderEvent::ItemAdded(a) => {
                remember_product(
                    tx,
                    generation,
                    a.product_id.as_uuid(),
                    a.product_name.as_str(),
                    false,
                )
                .await?;
                format!(
                    "{} × {} added to order {order} ({} each)",
                    a.quantity, a.product_name, a.unit_price
                )
            }
            OrderEvent::ItemRemoved(r) => format!(
                "{} removed from order {order}",
                product_name(tx, generation, r.product_id.as_uuid()).await?
            ),
            OrderEvent::ItemQuantityChanged(c) => format!(
                "Quantity of {} on order {order} changed to {}",
                product_name(tx, generation, c.product_id.as_uuid()).await?,
                c.quantity
            ),
            OrderEvent::Confirmed(c) => format!(
                "Order {order} confirmed ({}, {})",
                plural(c.item_count, "item"),
                c.total
            ),
            OrderEvent::Shipped(s) => {
                format!(
                    "Order {order} shipped with {} ({})",
                    s.carrier, s.tracking_number
                )
            }
            OrderEvent::Delivered(_) => format!("Order {order} delivered"),
            OrderEvent::Cancelled(c) => format!("Order {order} cancelled: {}", c.reason),
        };
        return Ok(Some(text));
    }
    if let Some((id, e)) = decode::<Customer>(event)? {
        let customer = short_id(id);
        let text = match e {
            CustomerEvent::Registered(r) => format!("Customer {} registered", r.name),
            CustomerEvent::Renamed(r) => format!("Customer {customer} renamed to {}", r.name),
            CustomerEvent::EmailChanged(_) => {
                format!("Customer {customer} changed their email address")
            }
        };
        return Ok(Some(text));
    }
    if let Some((id, e)) = decode::<Product>(event)? {
        let text = match e {
            ProductEvent::Created(c) => {
                remember_product(tx, generation, id, c.name.as_str(), true).await?;
                format!(
                    "Product {} ({}) added to the catalog at {}",
                    c.name, c.sku, c.price
                )
            }
            ProductEvent::Repriced(r) => format!(
                "{} repriced from {} to {}",
                product_name(tx, generation, id).await?,
                r.previous_price,
                r.price
            ),
            ProductEvent::Renamed(r) => {
                let old = product_name(tx, generation, id).await?;
                remember_product(tx, generation, id, r.name.as_str(), true).await?;
                format!("{old} renamed to {}", r.name)
            }
            ProductEvent::Discontinued(_) => {
                format!("{} discontinued", product_name(tx, generation, id).await?)
            }
        };
        return Ok(Some(text));
    }
    Ok(None)
}

/// Records a product's name; `overwrite` for catalog events, not for names copied into orders.
async fn remember_product(
    tx: &mut AnyConnection,
    generation: i64,
    product_id: Uuid,
    name: &str,
    overwrite: bool,
) -> anyhow::Result<()> {
    let conflict = if overwrite {
        "do update set name = excluded.name"
    } else {
        "do nothing"
    };
    sqlx::query(&format!(
        "insert into rm_activity_products (generation, product_id, name) values ($1, $2, $3) \
         on conflict (generation, product_id) {conflict}"
    ))
    .bind(generation)
    .bind(product_id.to_string())
    .bind(name)
    .execute(&mut *tx)
    .await
    .context("saving product name")?;
    Ok(())
}

/// The product's known name, or "Product <short id>".
async fn product_name(
    tx: &mut AnyConnection,
    generation: i64,
    product_id: Uuid,
) -> anyhow::Result<String> {
    let name: Option<String> = sqlx::query_scalar(
        "select name from rm_activity_products where generation = $1 and product_id = $2",
    )
    .bind(generation)
    .bind(product_id.to_string())
    .fetch_optional(&mut *tx)
    .await
    .context("reading product name")?;
    Ok(name.unwrap_or_else(|| format!("Product {}", short_id(product_id))))
}
