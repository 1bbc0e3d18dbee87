//! The `orders` read model's order tables as [`FoldedOrder`]s: `rm_orders` (one row per order)
//! and `rm_order_lines` (one per line), read back for the orders a batch touches and written
//! once per batch. This is the only place that maps the domain's state to columns.

use std::collections::HashMap;

use anyhow::Context as _;
use domain::ids::{CustomerId, OrderId, ProductId};
use domain::order::{OrderLine, OrderState};
use domain::values::{
    Carrier, CustomerName, Money, ProductName, Quantity, Reason, Sku, TrackingNumber,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::ORDERS;
use super::customers::CustomerNames;
use super::fold::FoldedOrder;
use crate::projections::touched::TouchedOrders;
use crate::projections::{column, delete_in, fetch_in, qty, uuid_column, write_rows};

/// Reads the orders `ids` as their rows stand (orders without a row are left out).
pub(super) async fn load(
    tx: &mut AnyConnection,
    generation: i64,
    ids: &[Uuid],
) -> anyhow::Result<HashMap<Uuid, FoldedOrder>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let orders = fetch_in(
        tx,
        "select order_id, customer_id, customer_name, status, created_at_us, updated_at_us, \
         version, carrier, tracking_number, cancel_reason from rm_orders",
        "order_id",
        generation,
        ids,
    )
    .await
    .context("reading the batch's orders")?;
    let mut loaded = HashMap::with_capacity(orders.len());
    for row in &orders {
        let id = uuid_column(row, "order_id")?;
        let order = order_of(id, row).with_context(|| format!("rm_orders row of order {id}"))?;
        loaded.insert(id, order);
    }
    let mut lines = fetch_in(
        tx,
        "select order_id, product_id, added_position, sku, product_name, unit_price_cents, \
         quantity from rm_order_lines",
        "order_id",
        generation,
        ids,
    )
    .await
    .context("reading the batch's order lines")?
    .iter()
    .map(|row| {
        let id = uuid_column(row, "order_id")?;
        let line = line_of(row).with_context(|| format!("rm_order_lines row of order {id}"))?;
        anyhow::Ok((id, line))
    })
    .collect::<anyhow::Result<Vec<_>>>()?;
    // Lines in the order they were added, as the domain keeps them.
    lines.sort_by_key(|(id, (_, added_at))| (*id, *added_at));
    for (id, (line, added_at)) in lines {
        // Lines without an order row are left behind by earlier versions of this projection
        // for an order whose placement an operator skipped; the order does not exist.
        if let Some(order) = loaded.get_mut(&id) {
            order.added_at.insert(line.product_id, added_at);
            order.state.lines.push(line);
        }
    }
    for order in loaded.values_mut() {
        order.state.total = order.state.lines_total();
    }
    Ok(loaded)
}

fn order_of(id: Uuid, row: &AnyRow) -> anyhow::Result<FoldedOrder> {
    let status: String = column(row, "status")?;
    let name: String = column(row, "customer_name")?;
    let carrier: Option<String> = column(row, "carrier")?;
    let tracking: Option<String> = column(row, "tracking_number")?;
    let reason: Option<String> = column(row, "cancel_reason")?;
    let state = OrderState {
        exists: true,
        order_id: Some(OrderId::new(id)),
        customer_id: Some(CustomerId::new(uuid_column(row, "customer_id")?)),
        customer_name: Some(CustomerName::parse(&name)?),
        status: status.parse()?,
        lines: Vec::new(),
        total: Money::ZERO,
        carrier: carrier.as_deref().map(Carrier::parse).transpose()?,
        tracking_number: tracking.as_deref().map(TrackingNumber::parse).transpose()?,
        cancel_reason: reason.as_deref().map(Reason::parse).transpose()?,
    };
    Ok(FoldedOrder {
        state,
        created_at_us: column(row, "created_at_us")?,
        updated_at_us: column(row, "updated_at_us")?,
        version: column(row, "version")?,
        added_at: HashMap::new(),
    })
}

/// A line and the position it was added at.
fn line_of(row: &AnyRow) -> anyhow::Result<(OrderLine, i64)> {
    let sku: String = column(row, "sku")?;
    let name: String = column(row, "product_name")?;
    let quantity: i64 = column(row, "quantity")?;
    let line = OrderLine::new(
        ProductId::new(uuid_column(row, "product_id")?),
        Sku::parse(&sku)?,
        ProductName::parse(&name)?,
        Money::from_cents(column(row, "unit_price_cents")?)?,
        Quantity::new(u32::try_from(quantity).with_context(|| format!("quantity {quantity}"))?)?,
    );
    Ok((line, column(row, "added_position")?))
}

/// One `rm_orders` row to write.
struct OrderRow<'a> {
    id: Uuid,
    customer_id: Uuid,
    customer_name: &'a str,
    order: &'a FoldedOrder,
}

const ORDER_INSERT: &str = "insert into rm_orders (generation, order_id, customer_id, \
     customer_name, status, item_count, total_cents, created_at_us, updated_at_us, version, \
     carrier, tracking_number, cancel_reason) values ";

/// The order rows of the batch's orders that had one: every column but the key is the fold's.
const ORDER_UPSERT_TAIL: &str = " on conflict (generation, order_id) do update set \
     customer_id = excluded.customer_id, customer_name = excluded.customer_name, \
     status = excluded.status, item_count = excluded.item_count, \
     total_cents = excluded.total_cents, created_at_us = excluded.created_at_us, \
     updated_at_us = excluded.updated_at_us, version = excluded.version, \
     carrier = excluded.carrier, tracking_number = excluded.tracking_number, \
     cancel_reason = excluded.cancel_reason";

/// Writes the rows of every order the batch touched: new orders inserted (an insert over an
/// existing row fails, as a second placement should), the others overwritten; lines rewritten
/// only for orders whose lines changed.
pub(super) async fn write(
    tx: &mut AnyConnection,
    generation: i64,
    orders: &TouchedOrders<FoldedOrder>,
    names: &CustomerNames,
) -> anyhow::Result<()> {
    let (mut new, mut old) = (Vec::new(), Vec::new());
    orders.warn_missing(ORDERS);
    for (id, touched) in orders.existing() {
        let order = &touched.after;
        let row = OrderRow {
            id,
            customer_id: order
                .state
                .customer_id
                .with_context(|| format!("order {id} exists without a customer"))?
                .as_uuid(),
            customer_name: names
                .shown(touched)
                .with_context(|| format!("order {id} exists without a customer name"))?,
            order,
        };
        if touched.before.is_none() {
            new.push(row);
        } else {
            old.push(row);
        }
    }
    for (rows, tail, what) in [
        (&new, "", "inserting the batch's new orders"),
        (&old, ORDER_UPSERT_TAIL, "updating the batch's orders"),
    ] {
        write_rows(tx, ORDER_INSERT, 13, tail, rows, |query, r| {
            let state = &r.order.state;
            query
                .bind(generation)
                .bind(r.id.to_string())
                .bind(r.customer_id.to_string())
                .bind(r.customer_name)
                .bind(state.status.as_str())
                .bind(i64::from(state.item_count()))
                .bind(state.total.cents())
                .bind(r.order.created_at_us)
                .bind(r.order.updated_at_us)
                .bind(r.order.version)
                .bind(state.carrier.as_ref().map(Carrier::as_str))
                .bind(state.tracking_number.as_ref().map(TrackingNumber::as_str))
                .bind(state.cancel_reason.as_ref().map(Reason::as_str))
        })
        .await
        .context(what)?;
    }

    delete_in(
        tx,
        "rm_order_lines",
        "order_id",
        generation,
        &orders.stale_lines(),
    )
    .await
    .context("deleting the changed orders' lines")?;
    let mut lines = Vec::new();
    for (id, order) in orders.new_lines() {
        // One row per product: the domain never adds a product twice, and a log that did is
        // refused here rather than by the primary key.
        anyhow::ensure!(
            order.added_at.len() == order.state.lines.len(),
            "order {id} holds two lines of one product"
        );
        for line in &order.state.lines {
            let added_at = order
                .added_at
                .get(&line.product_id)
                .copied()
                .with_context(|| {
                    format!("line {} of order {id} has no position", line.product_id)
                })?;
            lines.push((id, line, added_at));
        }
    }
    write_rows(
        tx,
        "insert into rm_order_lines (generation, order_id, product_id, added_position, sku, \
         product_name, unit_price_cents, quantity) values ",
        8,
        "",
        &lines,
        |query, &(id, line, added_at)| {
            query
                .bind(generation)
                .bind(id.to_string())
                .bind(line.product_id.to_string())
                .bind(added_at)
                .bind(line.sku.as_str())
                .bind(line.product_name.as_str())
                .bind(line.unit_price.cents())
                .bind(qty(line.quantity))
        },
    )
    .await
    .context("inserting order lines")?;
    Ok(())
}
