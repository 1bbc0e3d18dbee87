//! An order as the `orders` read model folds it: the domain's own [`OrderState`], moved by
//! [`Order::evolve`]. The lifecycle (status, lines, totals, shipping, cancellation) is the
//! domain's, so a new order event type needs no change here, only a column if it adds data to
//! show. Beside the state it keeps what the aggregate has no use for but the read model shows:
//! when the order was placed and last changed, the stream version it reflects, and the log
//! position each line was added at (the detail lists lines in that order).

use std::collections::HashMap;

use domain::aggregate::Aggregate as _;
use domain::ids::ProductId;
use domain::order::{Order, OrderEvent, OrderState};
use eventstore::RecordedEvent;

use crate::projections::at_us;
use crate::projections::touched::OrderFold;

/// See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct FoldedOrder {
    /// The aggregate's state. Read back from the rows, `customer_name` is the name the row
    /// shows (the customer's current one, see `customers.rs`), not the one copied at placement.
    pub(super) state: OrderState,
    /// `recorded_at` of the event that placed the order.
    pub(super) created_at_us: i64,
    /// `recorded_at` of the order's last event.
    pub(super) updated_at_us: i64,
    /// Stream version of the order's last event.
    pub(super) version: i64,
    /// Log position of the event that added each line of `state.lines`.
    pub(super) added_at: HashMap<ProductId, i64>,
}

impl OrderFold for FoldedOrder {
    fn fold(&mut self, event: &RecordedEvent, e: &OrderEvent) {
        let existed = self.state.exists;
        self.state = Order::evolve(std::mem::take(&mut self.state), e);
        let at = at_us(event);
        if self.state.exists && !existed {
            self.created_at_us = at;
        }
        self.updated_at_us = at;
        self.version = event.version;
        // A line that is new after this event was added by it; a removed line forgets its
        // position (added again later, it is listed at the new one).
        let lines = &self.state.lines;
        self.added_at
            .retain(|product, _| lines.iter().any(|l| l.product_id == *product));
        for line in lines {
            self.added_at
                .entry(line.product_id)
                .or_insert(event.position);
        }
    }

    fn exists(&self) -> bool {
        self.state.exists
    }

    fn same_lines(&self, other: &Self) -> bool {
        self.state.lines == other.state.lines && self.added_at == other.added_at
    }
}
