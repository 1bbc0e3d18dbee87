//! An order as the `dashboard` read model folds it: the domain's own [`OrderState`], moved by
//! [`Order::evolve`], as the `orders` model does. Status, lines and total are the domain's, so a
//! new order event type needs no change here, only a column if the dashboard shows its data.
//!
//! One thing the state cannot hold: lines written before migration 0007 have no SKU and unit
//! price (`rm_dash_lines` had neither), and the runner has no schema version that would rebuild
//! the projection by itself. Such a line is read back with a placeholder SKU and price 0 and
//! noted in [`FoldedOrder::unpriced`]; `rows.rs` writes it back without them. While an order holds
//! one, the lines' total is unknown, so its total is the one its row states, replaced by the one
//! `OrderConfirmed` states (as the dashboard kept it before; equal to the domain's by `decide`).
//! A rebuild writes every line with both columns and this path is never taken again.

use std::collections::BTreeSet;

use domain::aggregate::Aggregate as _;
use domain::ids::ProductId;
use domain::order::{Order, OrderEvent, OrderState};
use eventstore::RecordedEvent;

use crate::projections::touched::OrderFold;

/// See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct FoldedOrder {
    /// The aggregate's state. Read back from the rows it holds status and lines only (the
    /// dashboard keeps no customer); lines are in product order then, not the order added.
    pub(super) state: OrderState,
    /// Lines of `state` read back from rows without SKU and unit price (see the module docs).
    pub(super) unpriced: BTreeSet<ProductId>,
    /// The total its row states (0 until `OrderConfirmed`), the order's total while
    /// [`Self::unpriced`] is not empty.
    pub(super) stated_total_cents: i64,
}

impl FoldedOrder {
    /// The order's total, written to `rm_dash_orders.total_cents`.
    pub(super) fn total_cents(&self) -> i64 {
        if self.unpriced.is_empty() {
            self.state.total.cents()
        } else {
            self.stated_total_cents
        }
    }
}

impl OrderFold for FoldedOrder {
    fn fold(&mut self, _event: &RecordedEvent, e: &OrderEvent) {
        self.state = Order::evolve(std::mem::take(&mut self.state), e);
        if self.unpriced.is_empty() {
            return;
        }
        // A removed line is gone for good; added again, it comes with its SKU and price.
        let lines = &self.state.lines;
        self.unpriced
            .retain(|product| lines.iter().any(|l| l.product_id == *product));
        if let OrderEvent::Confirmed(c) = e {
            self.stated_total_cents = c.total.cents();
        }
    }

    fn exists(&self) -> bool {
        self.state.exists
    }

    fn same_lines(&self, other: &Self) -> bool {
        self.state.lines == other.state.lines && self.unpriced == other.unpriced
    }
}
