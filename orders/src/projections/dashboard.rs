//! Projection `dashboard`: small fact tables (order status and total, line quantities, product
//! names, placements per minute) that the query aggregates. The only counter is placements per
//! minute, pruned at positions fixed by the log, so the live model equals a replay (checked by
//! the replay tests).

use std::collections::HashMap;

use anyhow::Context as _;
use async_trait::async_trait;
use domain::aggregate::Aggregate as _;
use domain::order::{Order, OrderEvent, OrderStatus};
use domain::product::{Product, ProductEvent};
use eventstore::RecordedEvent;
use eventstore::projection::Projection;
use sqlx::AnyConnection;
use tracing::instrument;
use uuid::Uuid;

use super::{DASHBOARD, at_us, decode, qty, write_rows};

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
            apply_product(tx, generation, product_id, e).await
        } else {
            Ok(())
        }
    }

    /// Orders placed within the batch are folded in memory (status, total, lines) and inserted
    /// once at the end; placements per minute, product names and the events of orders placed
    /// earlier run their row-by-row statements in log order. A sequence the fold does not model
    /// is an error: the runner then applies the batch event by event.
    #[instrument(name = "projection.dashboard.batch", skip_all, fields(generation = generation, events = events.len()))]
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        events: &[&RecordedEvent],
    ) -> anyhow::Result<()> {
        let mut fold = NewDashOrders::default();
        for event in events {
            if let Some((order_id, e)) = decode::<Order>(event)? {
                if matches!(e, OrderEvent::Placed(_)) {
                    fold.place(order_id)?;
                    fold.minutes.count(event);
                } else if !fold.apply(order_id, &e)? {
                    apply_order(tx, generation, event, &order_id.to_string(), e)
                        .await
                        .with_context(|| {
                            format!("applying {} to order {order_id}", event.event_type)
                        })?;
                }
            } else if let Some((product_id, e)) = decode::<Product>(event)? {
                apply_product(tx, generation, product_id, e).await?;
            }
        }
        fold.flush(tx, generation).await
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

async fn apply_product(
    tx: &mut AnyConnection,
    generation: i64,
    product_id: Uuid,
    e: ProductEvent,
) -> anyhow::Result<()> {
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
}

/// An order placed within the current batch, in memory until [`NewDashOrders::flush`].
struct NewDashOrder {
    status: OrderStatus,
    total_cents: i64,
    /// (product, name, quantity) in the order added.
    lines: Vec<(Uuid, String, i64)>,
}

/// The batch fold of [`DashboardProjection::apply_batch`].
#[derive(Default)]
struct NewDashOrders {
    order: Vec<Uuid>,
    orders: HashMap<Uuid, NewDashOrder>,
    minutes: MinuteCounts,
}

/// Placements per minute over one batch, written by [`MinuteCounts::flush`] with the effect of
/// [`count_placement`] per placement: each prune deletes every minute below its cut, so the
/// batch's highest cut is one delete, and counts below a cut seen earlier restart from zero.
#[derive(Default)]
struct MinuteCounts {
    /// Highest prune cut of the batch so far: minutes below it are deleted.
    cut: Option<i64>,
    /// minute -> (placements in this batch, whether the stored row was deleted first).
    counts: std::collections::BTreeMap<i64, (i64, bool)>,
}

impl MinuteCounts {
    fn count(&mut self, event: &RecordedEvent) {
        let minute = at_us(event).div_euclid(MINUTE_US);
        let cut = self.cut;
        let entry = self
            .counts
            .entry(minute)
            .or_insert((0, cut.is_some_and(|c| minute < c)));
        entry.0 += 1;
        if event.position % PRUNE_EVERY == 0 {
            let c = minute - KEEP_MINUTES;
            self.counts.retain(|m, _| *m >= c);
            self.cut = Some(self.cut.map_or(c, |old| old.max(c)));
        }
    }

    async fn flush(self, tx: &mut AnyConnection, generation: i64) -> anyhow::Result<()> {
        if let Some(cut) = self.cut {
            sqlx::query("delete from rm_dash_minutes where generation = $1 and minute < $2")
                .bind(generation)
                .bind(cut)
                .execute(&mut *tx)
                .await
                .context("pruning minutes")?;
        }
        for restarted in [false, true] {
            let rows: Vec<(i64, i64)> = self
                .counts
                .iter()
                .filter(|(_, (_, r))| *r == restarted)
                .map(|(m, (n, _))| (*m, *n))
                .collect();
            let conflict = if restarted {
                " on conflict (generation, minute) do update set placed = excluded.placed"
            } else {
                " on conflict (generation, minute) do update \
                 set placed = rm_dash_minutes.placed + excluded.placed"
            };
            write_rows(
                tx,
                "insert into rm_dash_minutes (generation, minute, placed) values ",
                3,
                conflict,
                &rows,
                |query, &(minute, placed)| query.bind(generation).bind(minute).bind(placed),
            )
            .await
            .context("counting placements per minute")?;
        }
        Ok(())
    }
}

impl NewDashOrders {
    fn place(&mut self, order_id: Uuid) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.orders.contains_key(&order_id),
            "order {order_id} placed twice in one batch"
        );
        self.order.push(order_id);
        self.orders.insert(
            order_id,
            NewDashOrder {
                status: OrderStatus::Draft,
                total_cents: 0,
                lines: Vec::new(),
            },
        );
        Ok(())
    }

    /// Applies `e` to an order placed in this batch; `false` when the order is not one of them.
    fn apply(&mut self, order_id: Uuid, e: &OrderEvent) -> anyhow::Result<bool> {
        let Some(order) = self.orders.get_mut(&order_id) else {
            return Ok(false);
        };
        match e {
            OrderEvent::Placed(_) => anyhow::bail!("order {order_id} placed twice in one batch"),
            OrderEvent::ItemAdded(a) => {
                let product_id = a.product_id.as_uuid();
                anyhow::ensure!(
                    !order.lines.iter().any(|(p, _, _)| *p == product_id),
                    "product {product_id} added twice to order {order_id}"
                );
                order.lines.push((
                    product_id,
                    a.product_name.as_str().to_owned(),
                    qty(a.quantity),
                ));
            }
            OrderEvent::ItemRemoved(r) => {
                let product_id = r.product_id.as_uuid();
                order.lines.retain(|(p, _, _)| *p != product_id);
            }
            OrderEvent::ItemQuantityChanged(c) => {
                let product_id = c.product_id.as_uuid();
                for line in order.lines.iter_mut().filter(|(p, _, _)| *p == product_id) {
                    line.2 = qty(c.quantity);
                }
            }
            OrderEvent::Confirmed(c) => {
                order.status = OrderStatus::Confirmed;
                order.total_cents = c.total.cents();
            }
            OrderEvent::Shipped(_) => order.status = OrderStatus::Shipped,
            OrderEvent::Delivered(_) => order.status = OrderStatus::Delivered,
            OrderEvent::Cancelled(_) => order.status = OrderStatus::Cancelled,
        }
        Ok(true)
    }

    /// Inserts the batch's new orders and their lines, writes the minute counts (multi-row
    /// statements).
    async fn flush(self, tx: &mut AnyConnection, generation: i64) -> anyhow::Result<()> {
        let orders: Vec<(Uuid, &NewDashOrder)> = self
            .order
            .iter()
            .filter_map(|id| self.orders.get(id).map(|o| (*id, o)))
            .collect();
        write_rows(
            tx,
            "insert into rm_dash_orders (generation, order_id, status, total_cents) values ",
            4,
            "",
            &orders,
            |query, &(id, o)| {
                query
                    .bind(generation)
                    .bind(id.to_string())
                    .bind(o.status.as_str())
                    .bind(o.total_cents)
            },
        )
        .await
        .context("inserting the batch's new orders")?;
        let lines: Vec<(Uuid, &(Uuid, String, i64))> = orders
            .iter()
            .flat_map(|(id, o)| o.lines.iter().map(move |l| (*id, l)))
            .collect();
        write_rows(
            tx,
            "insert into rm_dash_lines (generation, order_id, product_id, product_name, \
             quantity) values ",
            5,
            "",
            &lines,
            |query, &(id, (product_id, name, quantity))| {
                query
                    .bind(generation)
                    .bind(id.to_string())
                    .bind(product_id.to_string())
                    .bind(name.as_str())
                    .bind(*quantity)
            },
        )
        .await
        .context("inserting the batch's new order lines")?;
        self.minutes.flush(tx, generation).await
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
            count_placement(tx, generation, event).await?;
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

/// One more placement in the event's minute; every [`PRUNE_EVERY`]th position, minutes older
/// than [`KEEP_MINUTES`] before it are deleted (pruning depends on the position only, so a replay
/// prunes at the same points).
async fn count_placement(
    tx: &mut AnyConnection,
    generation: i64,
    event: &RecordedEvent,
) -> anyhow::Result<()> {
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
