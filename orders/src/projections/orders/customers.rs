//! Customer names in the `orders` read model. An order shows its customer's current name, not
//! the one copied into `OrderPlaced` (a rename may commit between the command reading the name
//! and the order being stored): `rm_order_customers` keeps every customer's latest name, a new
//! order takes it, and a rename reaches every order of the customer.
//!
//! Over a batch that comes down to: an order shows the last name the batch gives its customer;
//! failing that, a new order shows the stored name (or, for a customer never named, the name in
//! its placement) and an older order keeps the name its row shows.

use std::collections::HashMap;

use anyhow::Context as _;
use domain::customer::CustomerEvent;
use sqlx::AnyConnection;
use uuid::Uuid;

use super::fold::FoldedOrder;
use crate::projections::touched::{Touched, TouchedOrders};
use crate::projections::{column, fetch_in, uuid_column, write_rows};

/// The customer names one batch needs and sets.
#[derive(Debug, Default)]
pub(super) struct CustomerNames {
    /// Customers the batch names, in the order first named.
    named: Vec<Uuid>,
    /// The last name the batch gives each of them.
    latest: HashMap<Uuid, String>,
    /// The stored names of the customers of the batch's new orders that it does not name.
    stored: HashMap<Uuid, String>,
}

impl CustomerNames {
    /// Notes the name a customer event states, if any.
    pub(super) fn record(&mut self, customer_id: Uuid, event: &CustomerEvent) {
        let name = match event {
            CustomerEvent::Registered(e) => e.name.as_str(),
            CustomerEvent::Renamed(e) => e.name.as_str(),
            // The orders show the name as erased, like a rename.
            CustomerEvent::Erased(_) => domain::values::ERASED,
            CustomerEvent::EmailChanged(_) => return,
        };
        if self.latest.insert(customer_id, name.to_owned()).is_none() {
            self.named.push(customer_id);
        }
    }

    /// Reads the stored names of the customers of the batch's new orders that the batch does not
    /// name, in one statement per 500.
    pub(super) async fn load(
        &mut self,
        tx: &mut AnyConnection,
        generation: i64,
        orders: &TouchedOrders<FoldedOrder>,
    ) -> anyhow::Result<()> {
        let mut ids: Vec<Uuid> = orders
            .existing()
            .filter(|(_, t)| t.before.is_none())
            .filter_map(|(_, t)| t.after.state.customer_id.map(|c| c.as_uuid()))
            .filter(|c| !self.latest.contains_key(c))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(());
        }
        let rows = fetch_in(
            tx,
            "select customer_id, name from rm_order_customers",
            "customer_id",
            generation,
            &ids,
        )
        .await
        .context("reading the customer names")?;
        for row in &rows {
            self.stored
                .insert(uuid_column(row, "customer_id")?, column(row, "name")?);
        }
        Ok(())
    }

    /// The name `order`'s row shows after the batch (`None`: the order has no customer yet).
    pub(super) fn shown<'a>(&'a self, order: &'a Touched<FoldedOrder>) -> Option<&'a str> {
        let state = &order.after.state;
        let customer = state.customer_id.map(|c| c.as_uuid());
        let latest = customer.and_then(|c| self.latest.get(&c));
        let stored = match order.before {
            None => customer.and_then(|c| self.stored.get(&c)),
            Some(_) => None,
        };
        latest
            .or(stored)
            .map(String::as_str)
            .or_else(|| state.customer_name.as_ref().map(|n| n.as_str()))
    }

    /// Saves the names the batch set and renames the customers' orders that the batch does not
    /// touch (the touched ones are written with [`Self::shown`]).
    pub(super) async fn write(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        let names: Vec<(Uuid, &str)> = self
            .named
            .iter()
            .filter_map(|id| self.latest.get(id).map(|n| (*id, n.as_str())))
            .collect();
        write_rows(
            tx,
            "insert into rm_order_customers (generation, customer_id, name) values ",
            3,
            " on conflict (generation, customer_id) do update set name = excluded.name",
            &names,
            |query, &(id, name)| query.bind(generation).bind(id.to_string()).bind(name),
        )
        .await
        .context("saving customer names")?;
        for (id, name) in names {
            sqlx::query(
                "update rm_orders set customer_name = $3 where generation = $1 \
                 and customer_id = $2",
            )
            .bind(generation)
            .bind(id.to_string())
            .bind(name)
            .execute(&mut *tx)
            .await
            .context("renaming the customer on their orders")?;
        }
        Ok(())
    }
}
