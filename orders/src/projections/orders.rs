//! Projection `orders`: order summaries (the list) and details (lines, shipping, cancellation),
//! with the customer name kept current.

use std::collections::HashMap;

use anyhow::Context as _;
use async_trait::async_trait;
use domain::aggregate::Aggregate as _;
use domain::customer::{Customer, CustomerEvent};
use domain::order::{Order, OrderEvent, OrderStatus};
use eventstore::RecordedEvent;
use eventstore::placeholders::Placeholders;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::{instrument, warn};
use uuid::Uuid;

use super::{ORDERS, at_us, decode, qty, write_rows};

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
        match Decoded::of(event)? {
            Decoded::Order(order_id, e) => apply_order(tx, generation, event, order_id, e).await,
            Decoded::Customer(customer_id, e) => {
                apply_customer(tx, generation, customer_id, e).await
            }
            Decoded::Other => Ok(()),
        }
    }

    /// Orders placed within the batch are folded in memory and inserted once at the end (a
    /// rebuild or catch-up writes each order and its lines once instead of once per event);
    /// events of orders placed earlier, and customer events, run their row-by-row statements in
    /// log order. A sequence the fold does not model (a second placement, an item added twice)
    /// is an error: the runner then applies the batch event by event.
    #[instrument(name = "projection.orders.batch", skip_all, fields(generation = generation, events = events.len()))]
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        events: &[&RecordedEvent],
    ) -> anyhow::Result<()> {
        let decoded = events
            .iter()
            .map(|event| Decoded::of(event))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut fold = NewOrders::default();
        let placed_by = decoded.iter().filter_map(|d| match d {
            Decoded::Order(_, OrderEvent::Placed(p)) => Some(p.customer_id.as_uuid()),
            _ => None,
        });
        fold.load_customers(tx, generation, placed_by.collect())
            .await?;
        for (event, decoded) in events.iter().zip(decoded) {
            match decoded {
                Decoded::Order(order_id, OrderEvent::Placed(p)) => {
                    let name = fold
                        .customer_name(p.customer_id.as_uuid())
                        .unwrap_or_else(|| p.customer_name.as_str().to_owned());
                    fold.place(order_id, p.customer_id.as_uuid(), name, event)?;
                }
                Decoded::Order(order_id, e) => {
                    if !fold.apply(order_id, event, &e)? {
                        apply_order(tx, generation, event, order_id, e).await?;
                    }
                }
                Decoded::Customer(customer_id, e) => {
                    if let Some(name) = customer_name_in(&e) {
                        fold.rename(customer_id, name);
                    }
                    apply_customer(tx, generation, customer_id, e).await?;
                }
                Decoded::Other => {}
            }
        }
        fold.flush(tx, generation).await
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

/// An event as this projection reads it.
enum Decoded {
    Order(Uuid, OrderEvent),
    Customer(Uuid, CustomerEvent),
    Other,
}

impl Decoded {
    fn of(event: &RecordedEvent) -> anyhow::Result<Self> {
        Ok(if let Some((id, e)) = decode::<Order>(event)? {
            Self::Order(id, e)
        } else if let Some((id, e)) = decode::<Customer>(event)? {
            Self::Customer(id, e)
        } else {
            Self::Other
        })
    }
}

/// The customer's name a customer event states, if any.
fn customer_name_in(event: &CustomerEvent) -> Option<&str> {
    match event {
        CustomerEvent::Registered(e) => Some(e.name.as_str()),
        CustomerEvent::Renamed(e) => Some(e.name.as_str()),
        CustomerEvent::EmailChanged(_) => None,
    }
}

/// An order placed within the current batch: its row and lines, in memory until
/// [`NewOrders::flush`].
struct NewOrder {
    customer_id: Uuid,
    customer_name: String,
    status: OrderStatus,
    item_count: i64,
    total_cents: i64,
    created_at_us: i64,
    updated_at_us: i64,
    version: i64,
    carrier: Option<String>,
    tracking_number: Option<String>,
    cancel_reason: Option<String>,
    lines: Vec<NewLine>,
}

struct NewLine {
    product_id: Uuid,
    added_position: i64,
    sku: String,
    product_name: String,
    unit_price_cents: i64,
    quantity: i64,
}

/// The batch fold of [`OrdersProjection::apply_batch`].
#[derive(Default)]
struct NewOrders {
    /// Placement order, for a deterministic insert.
    order: Vec<Uuid>,
    orders: HashMap<Uuid, NewOrder>,
    /// Customer names known in this batch (`None`: no row).
    customers: HashMap<Uuid, Option<String>>,
}

impl NewOrders {
    /// The name `rm_order_customers` holds for a customer of [`load_customers`] at this point
    /// of the batch.
    ///
    /// [`load_customers`]: Self::load_customers
    fn customer_name(&self, customer_id: Uuid) -> Option<String> {
        self.customers.get(&customer_id).cloned().flatten()
    }

    /// Reads the stored names of `ids` (the customers the batch's placements name) in one
    /// statement; the batch's own customer events then update them in log order.
    async fn load_customers(
        &mut self,
        tx: &mut AnyConnection,
        generation: i64,
        mut ids: Vec<Uuid>,
    ) -> anyhow::Result<()> {
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        // At most one parameter per event of the batch: far below both backends' limits.
        let mut p = Placeholders::for_connection(tx);
        let statement = format!(
            "select customer_id, name from rm_order_customers where generation = {} \
             and customer_id in ({})",
            p.param(),
            p.list(ids.len())
        );
        let mut query = sqlx::query_as::<_, (String, String)>(&statement).bind(generation);
        for id in &ids {
            query = query.bind(id.to_string());
            self.customers.insert(*id, None);
        }
        for (id, name) in query
            .fetch_all(&mut *tx)
            .await
            .context("reading the customer names")?
        {
            if let Ok(id) = Uuid::parse_str(&id) {
                self.customers.insert(id, Some(name));
            }
        }
        Ok(())
    }

    fn place(
        &mut self,
        order_id: Uuid,
        customer_id: Uuid,
        customer_name: String,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.orders.contains_key(&order_id),
            "order {order_id} placed twice in one batch"
        );
        let at = at_us(event);
        self.order.push(order_id);
        self.orders.insert(
            order_id,
            NewOrder {
                customer_id,
                customer_name,
                status: OrderStatus::Draft,
                item_count: 0,
                total_cents: 0,
                created_at_us: at,
                updated_at_us: at,
                version: event.version,
                carrier: None,
                tracking_number: None,
                cancel_reason: None,
                lines: Vec::new(),
            },
        );
        Ok(())
    }

    /// A customer's name changed: orders placed earlier in the batch show it, later ones read it.
    fn rename(&mut self, customer_id: Uuid, name: &str) {
        self.customers.insert(customer_id, Some(name.to_owned()));
        for order in self.orders.values_mut() {
            if order.customer_id == customer_id {
                order.customer_name = name.to_owned();
            }
        }
    }

    /// Applies `e` to an order placed in this batch; `false` when the order is not one of them.
    fn apply(
        &mut self,
        order_id: Uuid,
        event: &RecordedEvent,
        e: &OrderEvent,
    ) -> anyhow::Result<bool> {
        let Some(order) = self.orders.get_mut(&order_id) else {
            return Ok(false);
        };
        let mut lines_changed = false;
        match e {
            OrderEvent::Placed(_) => anyhow::bail!("order {order_id} placed twice in one batch"),
            OrderEvent::ItemAdded(a) => {
                let product_id = a.product_id.as_uuid();
                anyhow::ensure!(
                    !order.lines.iter().any(|l| l.product_id == product_id),
                    "product {product_id} added twice to order {order_id}"
                );
                order.lines.push(NewLine {
                    product_id,
                    added_position: event.position,
                    sku: a.sku.as_str().to_owned(),
                    product_name: a.product_name.as_str().to_owned(),
                    unit_price_cents: a.unit_price.cents(),
                    quantity: qty(a.quantity),
                });
                lines_changed = true;
            }
            OrderEvent::ItemRemoved(r) => {
                let product_id = r.product_id.as_uuid();
                order.lines.retain(|l| l.product_id != product_id);
                lines_changed = true;
            }
            OrderEvent::ItemQuantityChanged(c) => {
                let product_id = c.product_id.as_uuid();
                for line in order
                    .lines
                    .iter_mut()
                    .filter(|l| l.product_id == product_id)
                {
                    line.quantity = qty(c.quantity);
                }
                lines_changed = true;
            }
            OrderEvent::Confirmed(c) => {
                order.status = OrderStatus::Confirmed;
                order.total_cents = c.total.cents();
                order.item_count = i64::from(c.item_count);
            }
            OrderEvent::Shipped(s) => {
                order.status = OrderStatus::Shipped;
                order.carrier = Some(s.carrier.as_str().to_owned());
                order.tracking_number = Some(s.tracking_number.as_str().to_owned());
            }
            OrderEvent::Delivered(_) => order.status = OrderStatus::Delivered,
            OrderEvent::Cancelled(c) => {
                order.status = OrderStatus::Cancelled;
                order.cancel_reason = Some(c.reason.as_str().to_owned());
            }
        }
        if lines_changed {
            // As `recompute_totals`: a draft's totals are its lines' sums.
            order.item_count = order.lines.iter().map(|l| l.quantity).sum();
            order.total_cents = order
                .lines
                .iter()
                .map(|l| l.quantity * l.unit_price_cents)
                .sum();
        }
        order.updated_at_us = at_us(event);
        order.version = event.version;
        Ok(true)
    }

    /// Inserts the batch's new orders and their lines (multi-row statements).
    async fn flush(self, tx: &mut AnyConnection, generation: i64) -> anyhow::Result<()> {
        let orders: Vec<(Uuid, &NewOrder)> = self
            .order
            .iter()
            .filter_map(|id| self.orders.get(id).map(|o| (*id, o)))
            .collect();
        write_rows(
            tx,
            "insert into rm_orders (generation, order_id, customer_id, customer_name, status, \
             item_count, total_cents, created_at_us, updated_at_us, version, carrier, \
             tracking_number, cancel_reason) values ",
            13,
            "",
            &orders,
            |query, &(id, o)| {
                query
                    .bind(generation)
                    .bind(id.to_string())
                    .bind(o.customer_id.to_string())
                    .bind(o.customer_name.as_str())
                    .bind(o.status.as_str())
                    .bind(o.item_count)
                    .bind(o.total_cents)
                    .bind(o.created_at_us)
                    .bind(o.updated_at_us)
                    .bind(o.version)
                    .bind(o.carrier.as_deref())
                    .bind(o.tracking_number.as_deref())
                    .bind(o.cancel_reason.as_deref())
            },
        )
        .await
        .context("inserting the batch's new orders")?;
        let lines: Vec<(Uuid, &NewLine)> = orders
            .iter()
            .flat_map(|(id, o)| o.lines.iter().map(move |l| (*id, l)))
            .collect();
        write_rows(
            tx,
            "insert into rm_order_lines (generation, order_id, product_id, added_position, \
             sku, product_name, unit_price_cents, quantity) values ",
            8,
            "",
            &lines,
            |query, &(id, l)| {
                query
                    .bind(generation)
                    .bind(id.to_string())
                    .bind(l.product_id.to_string())
                    .bind(l.added_position)
                    .bind(l.sku.as_str())
                    .bind(l.product_name.as_str())
                    .bind(l.unit_price_cents)
                    .bind(l.quantity)
            },
        )
        .await
        .context("inserting the batch's new order lines")?;
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
