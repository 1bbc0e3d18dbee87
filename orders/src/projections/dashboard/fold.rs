//! An order as the `dashboard` read model keeps it: status, confirmed total and line quantities,
//! named types folded in memory over a batch.
//!
//! The status comes from the domain ([`OrderStatus::after`], which `Order::evolve` follows too).
//! Lines and total cannot come from `Order::evolve` itself: that needs the full `OrderState`
//! (every line's SKU and unit price) back from the rows of an order placed in an earlier batch,
//! and `rm_dash_lines` keeps neither. So the total is the one `OrderConfirmed` states (equal to
//! the domain's by `decide`) and the lines follow the three line events. With `sku` and
//! `unit_price_cents` columns on `rm_dash_lines` this could fold an `OrderState` like the
//! `orders` model does.

use domain::order::{OrderEvent, OrderStatus};
use eventstore::RecordedEvent;
use uuid::Uuid;

use crate::projections::qty;
use crate::projections::touched::OrderFold;

/// See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct DashOrder {
    /// Whether the order was placed (has a row).
    pub(super) exists: bool,
    pub(super) status: OrderStatus,
    /// 0 until `OrderConfirmed` states the order's total.
    pub(super) total_cents: i64,
    /// In the order added (read back: by product).
    pub(super) lines: Vec<DashLine>,
}

/// One line of a [`DashOrder`]: what the top-products list sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DashLine {
    pub(super) product_id: Uuid,
    /// As copied into the order (the list prefers the catalog's current name).
    pub(super) product_name: String,
    pub(super) quantity: i64,
}

impl OrderFold for DashOrder {
    fn fold(&mut self, _event: &RecordedEvent, e: &OrderEvent) {
        self.status = self.status.after(e);
        match e {
            OrderEvent::Placed(_) => self.exists = true,
            OrderEvent::ItemAdded(a) => self.lines.push(DashLine {
                product_id: a.product_id.as_uuid(),
                product_name: a.product_name.as_str().to_owned(),
                quantity: qty(a.quantity),
            }),
            OrderEvent::ItemRemoved(r) => {
                let product_id = r.product_id.as_uuid();
                self.lines.retain(|l| l.product_id != product_id);
            }
            OrderEvent::ItemQuantityChanged(c) => {
                let product_id = c.product_id.as_uuid();
                for line in self.lines.iter_mut().filter(|l| l.product_id == product_id) {
                    line.quantity = qty(c.quantity);
                }
            }
            OrderEvent::Confirmed(c) => self.total_cents = c.total.cents(),
            OrderEvent::Shipped(_) | OrderEvent::Delivered(_) | OrderEvent::Cancelled(_) => {}
        }
    }

    fn exists(&self) -> bool {
        self.exists
    }

    fn same_lines(&self, other: &Self) -> bool {
        self.lines == other.lines
    }
}
