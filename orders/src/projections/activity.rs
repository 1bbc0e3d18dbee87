//! Projection `activity`: the last [`ACTIVITY_KEEP`] events of the log as readable sentences.
//!
//! Every event of the log yields exactly one row (events it cannot read get a generic sentence
//! rather than faulting the feed), so positions are contiguous and pruning by position keeps
//! the last 100 (plus at most `PRUNE_EVERY` not yet pruned; queries read 100).

use std::collections::HashMap;

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

use super::{ACTIVITY, GenerationTable, at_us, decode, short_id, write_rows};

/// Rows the feed keeps.
pub const ACTIVITY_KEEP: i64 = 100;
/// Rows older than the last [`ACTIVITY_KEEP`] are deleted on events whose position is a
/// multiple of this (one delete per 25 events instead of one per event).
const PRUNE_EVERY: i64 = 25;

/// The tables of a generation.
const TABLES: &[GenerationTable] = &[
    GenerationTable {
        name: "rm_activity",
        key: "position",
    },
    GenerationTable {
        name: "rm_activity_products",
        key: "product_id",
    },
];

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
        apply_events(tx, generation, &[event]).await
    }

    #[instrument(name = "projection.activity.batch", skip_all, fields(generation = generation, events = events.len()))]
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

/// The feed rows of `events` (in log order): one multi-row insert of the rows that survive this
/// batch's pruning, one prune, product names written once. Leaves exactly the rows that applying
/// the events one by one leaves: pruning depends on positions only, and each prune deletes a
/// prefix, so the last prune point of the batch decides.
async fn apply_events(
    tx: &mut AnyConnection,
    generation: i64,
    events: &[&RecordedEvent],
) -> anyhow::Result<()> {
    let cut = events
        .iter()
        .rev()
        .map(|e| e.position)
        .find(|p| p % PRUNE_EVERY == 0)
        .map(|p| p - ACTIVITY_KEEP);
    let mut names = ProductNames::new(generation);
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let text = match describe(tx, &mut names, event).await {
            Ok(Some(text)) => text,
            Ok(None) => generic(event),
            Err(e) if is_decode_error(event) => {
                warn!(position = event.position, error = %format!("{e:#}"), "activity: unreadable event, described generically");
                generic(event)
            }
            Err(e) => return Err(e),
        };
        if cut.is_none_or(|cut| event.position > cut) {
            rows.push((*event, text, names_customer(event)));
        }
    }
    names.flush(tx).await?;
    write_rows(
        tx,
        "insert into rm_activity (generation, position, event_id, stream_id, event_type, \
         text, at_us, subject) values ",
        8,
        "",
        &rows,
        |query, &(event, ref text, ref subject)| {
            query
                .bind(generation)
                .bind(event.position)
                .bind(event.event_id.to_string())
                .bind(&event.stream_id)
                .bind(&event.event_type)
                .bind(text.as_str())
                .bind(at_us(event))
                .bind(subject.clone())
        },
    )
    .await?;
    // An erasure blanks every sentence that names the customer (rows written before it, in
    // earlier batches or this one).
    for event in events.iter().filter(|e| e.event_type == "CustomerErased") {
        if let Some((id, CustomerEvent::Erased(_))) = decode::<Customer>(event).ok().flatten() {
            sqlx::query("update rm_activity set text = $3 where generation = $1 and subject = $2")
                .bind(generation)
                .bind(id.to_string())
                .bind(ERASED_SENTENCE)
                .execute(&mut *tx)
                .await
                .context("activity: blanking an erased customer's sentences")?;
        }
    }
    Ok::<(), anyhow::Error>(()).context("inserting activity rows")?;
    // Between prunes the table holds up to ACTIVITY_KEEP + PRUNE_EVERY rows; queries read 100.
    if let Some(cut) = cut {
        sqlx::query("delete from rm_activity where generation = $1 and position <= $2")
            .bind(generation)
            .bind(cut)
            .execute(&mut *tx)
            .await
            .context("pruning activity")?;
    }
    Ok(())
}

/// Product names as the feed knows them during one batch: read through from
/// `rm_activity_products` (cached), changes kept in memory and written once by
/// [`flush`](Self::flush) with the same rules as row-by-row upserts.
struct ProductNames {
    generation: i64,
    /// Names read from the table (`None`: no row).
    stored: HashMap<Uuid, Option<String>>,
    /// Names to write: (name, overwrite). Without overwrite an existing row wins.
    changed: HashMap<Uuid, (String, bool)>,
}

impl ProductNames {
    fn new(generation: i64) -> Self {
        Self {
            generation,
            stored: HashMap::new(),
            changed: HashMap::new(),
        }
    }

    async fn stored(&mut self, tx: &mut AnyConnection, id: Uuid) -> anyhow::Result<Option<String>> {
        if let Some(known) = self.stored.get(&id) {
            return Ok(known.clone());
        }
        let name: Option<String> = sqlx::query_scalar(
            "select name from rm_activity_products where generation = $1 and product_id = $2",
        )
        .bind(self.generation)
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .context("reading product name")?;
        self.stored.insert(id, name.clone());
        Ok(name)
    }

    /// The product's known name, or "Product <short id>".
    async fn get(&mut self, tx: &mut AnyConnection, id: Uuid) -> anyhow::Result<String> {
        if let Some((name, true)) = self.changed.get(&id) {
            return Ok(name.clone());
        }
        if let Some(name) = self.stored(tx, id).await? {
            return Ok(name);
        }
        Ok(match self.changed.get(&id) {
            Some((name, _)) => name.clone(),
            None => format!("Product {}", short_id(id)),
        })
    }

    /// Records a name; `overwrite` for catalog events, not for names copied into orders (those
    /// only fill a gap).
    fn remember(&mut self, id: Uuid, name: &str, overwrite: bool) {
        match self.changed.get(&id) {
            // A later copy never replaces a name already recorded in this batch.
            Some(_) if !overwrite => {}
            _ => {
                self.changed.insert(id, (name.to_owned(), overwrite));
            }
        }
    }

    async fn flush(self, tx: &mut AnyConnection) -> anyhow::Result<()> {
        for overwrite in [true, false] {
            let rows: Vec<(&Uuid, &String)> = self
                .changed
                .iter()
                .filter(|(_, (_, o))| *o == overwrite)
                .map(|(id, (name, _))| (id, name))
                .collect();
            let conflict = if overwrite {
                " on conflict (generation, product_id) do update set name = excluded.name"
            } else {
                " on conflict (generation, product_id) do nothing"
            };
            write_rows(
                tx,
                "insert into rm_activity_products (generation, product_id, name) values ",
                3,
                conflict,
                &rows,
                |query, &(id, name)| {
                    query
                        .bind(self.generation)
                        .bind(id.to_string())
                        .bind(name.as_str())
                },
            )
            .await
            .context("saving product names")?;
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

/// What a sentence that named an erased customer says instead.
const ERASED_SENTENCE: &str = "Personal data erased";

/// The customer whose personal data a sentence about `event` names, if any.
fn names_customer(event: &RecordedEvent) -> Option<String> {
    match event.event_type.as_str() {
        "CustomerRegistered" | "CustomerRenamed" => {
            domain::parse_stream_id::<Customer>(&event.stream_id).map(|id| id.to_string())
        }
        "OrderPlaced" => event.data["customer_id"].as_str().map(str::to_owned),
        _ => None,
    }
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
    names: &mut ProductNames,
    event: &RecordedEvent,
) -> anyhow::Result<Option<String>> {
    if let Some((id, e)) = decode::<Order>(event)? {
        let order = short_id(id);
        let text = match e {
            OrderEvent::Placed(p) => format!("Order {order} placed for {}", p.customer_name),
            OrderEvent::ItemAdded(a) => {
                names.remember(a.product_id.as_uuid(), a.product_name.as_str(), false);
                format!(
                    "{} × {} added to order {order} ({} each)",
                    a.quantity, a.product_name, a.unit_price
                )
            }
            OrderEvent::ItemRemoved(r) => format!(
                "{} removed from order {order}",
                names.get(tx, r.product_id.as_uuid()).await?
            ),
            OrderEvent::ItemQuantityChanged(c) => format!(
                "Quantity of {} on order {order} changed to {}",
                names.get(tx, c.product_id.as_uuid()).await?,
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
            CustomerEvent::Erased(e) => {
                format!("Personal data of customer {customer} erased: {}", e.reason)
            }
        };
        return Ok(Some(text));
    }
    if let Some((id, e)) = decode::<Product>(event)? {
        let text = match e {
            ProductEvent::Created(c) => {
                names.remember(id, c.name.as_str(), true);
                format!(
                    "Product {} ({}) added to the catalog at {}",
                    c.name, c.sku, c.price
                )
            }
            ProductEvent::Repriced(r) => format!(
                "{} repriced from {} to {}",
                names.get(tx, id).await?,
                r.previous_price,
                r.price
            ),
            ProductEvent::Renamed(r) => {
                let old = names.get(tx, id).await?;
                names.remember(id, r.name.as_str(), true);
                format!("{old} renamed to {}", r.name)
            }
            ProductEvent::Discontinued(_) => {
                format!("{} discontinued", names.get(tx, id).await?)
            }
            ProductEvent::StockReceived(r) => {
                format!(
                    "{}: {} units received",
                    names.get(tx, id).await?,
                    r.quantity
                )
            }
            ProductEvent::StockCorrected(c) => format!(
                "{}: stock counted at {} (was {}): {}",
                names.get(tx, id).await?,
                c.on_hand,
                c.previous,
                c.reason
            ),
            ProductEvent::StockReserved(r) => format!(
                "{}: {} reserved for order {}",
                names.get(tx, id).await?,
                r.quantity,
                short_id(r.order_id.as_uuid())
            ),
            ProductEvent::StockReleased(r) => format!(
                "{}: {} released by order {}",
                names.get(tx, id).await?,
                r.quantity,
                short_id(r.order_id.as_uuid())
            ),
            ProductEvent::StockShipped(r) => format!(
                "{}: {} shipped with order {}",
                names.get(tx, id).await?,
                r.quantity,
                short_id(r.order_id.as_uuid())
            ),
        };
        return Ok(Some(text));
    }
    Ok(None)
}
