//! The `dashboard` read model's order tables as [`DashOrder`]s: `rm_dash_orders` (status and
//! total per order) and `rm_dash_lines` (quantity per line), read back for the orders a batch
//! touches and written once per batch.

use std::collections::HashMap;

use anyhow::Context as _;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::DASHBOARD;
use super::fold::{DashLine, DashOrder};
use crate::projections::touched::TouchedOrders;
use crate::projections::{column, delete_in, fetch_in, uuid_column, write_rows};

/// Reads the orders `ids` as their rows stand (orders without a row are left out).
pub(super) async fn load(
    tx: &mut AnyConnection,
    generation: i64,
    ids: &[Uuid],
) -> anyhow::Result<HashMap<Uuid, DashOrder>> {
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
        let order = DashOrder {
            exists: true,
            status: status
                .parse()
                .with_context(|| format!("rm_dash_orders row of order {id}"))?,
            total_cents: column(row, "total_cents")?,
            lines: Vec::new(),
        };
        loaded.insert(id, order);
    }
    let lines = fetch_in(
        tx,
        "select order_id, product_id, product_name, quantity from rm_dash_lines",
        "order_id",
        generation,
        ids,
    )
    .await
    .context("reading the batch's order lines")?;
    let mut lines = lines
        .iter()
        .map(|row| {
            let line = DashLine {
                product_id: uuid_column(row, "product_id")?,
                product_name: column(row, "product_name")?,
                quantity: column(row, "quantity")?,
            };
            anyhow::Ok((uuid_column(row, "order_id")?, line))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    lines.sort_by_key(|(id, line)| (*id, line.product_id));
    for (id, line) in lines {
        // Lines without an order row are left behind by earlier versions of this projection
        // for an order whose placement an operator skipped; the order does not exist.
        if let Some(order) = loaded.get_mut(&id) {
            order.lines.push(line);
        }
    }
    Ok(loaded)
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
    orders: &TouchedOrders<DashOrder>,
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
                .bind(o.status.as_str())
                .bind(o.total_cents)
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
    let lines: Vec<(Uuid, &DashLine)> = orders
        .new_lines()
        .into_iter()
        .flat_map(|(id, o)| o.lines.iter().map(move |l| (id, l)))
        .collect();
    write_rows(
        tx,
        "insert into rm_dash_lines (generation, order_id, product_id, product_name, quantity) \
         values ",
        5,
        "",
        &lines,
        |query, &(id, line)| {
            query
                .bind(generation)
                .bind(id.to_string())
                .bind(line.product_id.to_string())
                .bind(line.product_name.as_str())
                .bind(line.quantity)
        },
    )
    .await
    .context("inserting order lines")?;
    Ok(())
}
