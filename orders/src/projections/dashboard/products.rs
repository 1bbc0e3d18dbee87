//! Current product names in the `dashboard` read model (`rm_dash_product_names`), so the
//! top-products list shows today's name rather than the one copied into each order.

use std::collections::HashMap;

use anyhow::Context as _;
use domain::product::ProductEvent;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::projections::write_rows;

/// The last name a batch gives each product, written once.
#[derive(Debug, Default)]
pub(super) struct ProductNames {
    /// Products in the order first named.
    named: Vec<Uuid>,
    latest: HashMap<Uuid, String>,
}

impl ProductNames {
    /// Notes the name a product event states, if any.
    pub(super) fn record(&mut self, product_id: Uuid, event: &ProductEvent) {
        let name = match event {
            ProductEvent::Created(c) => &c.name,
            ProductEvent::Renamed(r) => &r.name,
            ProductEvent::Repriced(_)
            | ProductEvent::Discontinued(_)
            | ProductEvent::StockReceived(_)
            | ProductEvent::StockCorrected(_)
            | ProductEvent::StockReserved(_)
            | ProductEvent::StockReleased(_)
            | ProductEvent::StockShipped(_) => return,
        };
        if self
            .latest
            .insert(product_id, name.as_str().to_owned())
            .is_none()
        {
            self.named.push(product_id);
        }
    }

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
            "insert into rm_dash_product_names (generation, product_id, name) values ",
            3,
            " on conflict (generation, product_id) do update set name = excluded.name",
            &names,
            |query, &(id, name)| query.bind(generation).bind(id.to_string()).bind(name),
        )
        .await
        .context("saving product names")?;
        Ok(())
    }
}
