//! The `dashboard` read model's order tables as [`FoldedOrder`]s: `rm_dash_orders` (status and
//! total per order) and `rm_dash_lines` (one per line: what the top-products list sums, plus the
//! SKU and unit price that let a line be read back into the domain's `OrderLine`), read back for
//! the orders a batch touches and written once per batch. This is the only place that maps the
//! domain's state to the dashboard's columns.

use std::collections::HashMap;

use anyhow::Context as _;
use domain::ids::ProductId;
use domain::order::{OrderLine, OrderState};
use domain::values::{Money, ProductName, Quantity, Sku};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::DASHBOARD;
use super::fold::FoldedOrder;
use crate::projections::touched::TouchedOrders;
use crate::projections::{column, delete_in, fetch_in, qty, uuid_column, write_rows};

/// The SKU a line written before migration 0007 is read back with (see `fold.rs`); never
/// written.
const UNKNOWN_SKU: &str = "UNKNOWN";

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
        "select order_id, status, total_cents from rm_dash_orders",
        "order_id",
        generation,
        ids,
    )
    .await
    .context("reading the batch's orders")?;
    let mut loaded = HashMap::with_capacity(orders.len());
    for row in &orders {
        let id = uuid_column(row, "order_id")?;
        let status: String = column(row, "status")?;
        let state = OrderState {
            exists: true,
            status: status
                .parse()
                .with_context(|| format!("rm_dash_orders row of order {id}"))?,
            ..OrderState::default()
        };
        let order = FoldedOrder {
            state,
            stated_total_cents: column(row, "total_cents")?,
            ..FoldedOrder::default()
        };
        loaded.insert(id, order);
    }
    let mut lines = fetch_in(
        tx,
        "select order_id, product_id, sku, product_name, unit_price_cents, quantity \
         from rm_dash_lines",
        "order_id",
        generation,
        ids,
    )
    .await
    .context("reading the batch's order lines")?
    .iter()
    .map(|row| {
        let id = uuid_column(row, "order_id")?;
        let line = line_of(row).with_context(|| format!("rm_dash_lines row of order {id}"))?;
        anyhow::Ok((id, line))
    })
    .collect::<anyhow::Result<Vec<_>>>()?;
    lines.sort_by_key(|(id, (line, _))| (*id, line.product_id));
    for (id, (line, priced)) in lines {
        // Lines without an order row are left behind by earlier versions of this projection
        // for an order whose placement an operator skipped; the order does not exist.
        if let Some(order) = loaded.get_mut(&id) {
            if !priced {
                order.unpriced.insert(line.product_id);
            }
            order.state.lines.push(line);
        }
    }
    for order in loaded.values_mut() {
        order.state.total = order.state.lines_total();
    }
    Ok(loaded)
}

/// A line and whether its row has its SKU and unit price (rows written before migration 0007
/// have neither: a placeholder SKU and price 0 stand in).
fn line_of(row: &AnyRow) -> anyhow::Result<(OrderLine, bool)> {
    let sku: Option<String> = column(row, "sku")?;
    let price: Option<i64> = column(row, "unit_price_cents")?;
    let name: String = column(row, "product_name")?;
    let quantity: i64 = column(row, "quantity")?;
    let priced = sku.is_some() && price.is_some();
    let line = OrderLine::new(
        ProductId::new(uuid_column(row, "product_id")?),
        Sku::parse(sku.as_deref().filter(|_| priced).unwrap_or(UNKNOWN_SKU))?,
        ProductName::parse(&name)?,
        Money::from_cents(price.filter(|_| priced).unwrap_or(0))?,
        Quantity::new(u32::try_from(quantity).with_context(|| format!("quantity {quantity}"))?)?,
    );
    Ok((line, priced))
}

const ORDER_INSERT: &str =
    "insert into rm_dash_orders (generation, order_id, status, total_cents) values ";

const ORDER_UPSERT_TAIL: &str = " on conflict (generation, order_id) do update set \
     status = excluded.status, total_cents = excluded.total_cents";

/// Writes the rows of every order the batch touched: new orders inserted (an insert over an
/// existing row fails, as a second placement should), the others overwritten; lines rewritten
/// only for orders whose lines changed.
pub(super) async fn write(
    tx: &mut AnyConnection,
    generation: i64,
    orders: &TouchedOrders<FoldedOrder>,
) -> anyhow::Result<()> {
    let (mut new, mut old) = (Vec::new(), Vec::new());
    orders.warn_missing(DASHBOARD);
    for (id, touched) in orders.existing() {
        if touched.before.is_none() {
            new.push((id, &touched.after));
        } else {
            old.push((id, &touched.after));
        }
    }
    for (rows, tail, what) in [
        (&new, "", "inserting the batch's new orders"),
        (&old, ORDER_UPSERT_TAIL, "updating the batch's orders"),
    ] {
        write_rows(tx, ORDER_INSERT, 4, tail, rows, |query, &(id, o)| {
            query
                .bind(generation)
                .bind(id.to_string())
                .bind(o.state.status.as_str())
                .bind(o.total_cents())
        })
        .await
        .context(what)?;
    }

    delete_in(
        tx,
        "rm_dash_lines",
        "order_id",
        generation,
        &orders.stale_lines(),
    )
    .await
    .context("deleting the changed orders' lines")?;
    // An unpriced line is written back without SKU and price (null), as it was read.
    let lines: Vec<(Uuid, &OrderLine, bool)> = orders
        .new_lines()
        .into_iter()
        .flat_map(|(id, o)| {
            o.state
                .lines
                .iter()
                .map(move |l| (id, l, !o.unpriced.contains(&l.product_id)))
        })
        .collect();
    write_rows(
        tx,
        "insert into rm_dash_lines (generation, order_id, product_id, sku, product_name, \
         unit_price_cents, quantity) values ",
        7,
        "",
        &lines,
        |query, &(id, line, priced)| {
            query
                .bind(generation)
                .bind(id.to_string())
                .bind(line.product_id.to_string())
                .bind(priced.then(|| line.sku.as_str()))
                .bind(line.product_name.as_str())
                .bind(priced.then(|| line.unit_price.cents()))
                .bind(qty(line.quantity))
        },
    )
    .await
    .context("inserting order lines")?;
    Ok(())
}
