//! What an order's events fold into.

use serde::{Deserialize, Serialize};

use crate::ids::{CustomerId, OrderId, ProductId};
use crate::order::OrderStatus;
use crate::values::{
    Carrier, CustomerName, Money, ProductName, Quantity, Reason, Sku, TrackingNumber,
};

/// One product line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product.
    pub product_id: ProductId,
    /// Its SKU when added.
    pub sku: Sku,
    /// Its name when added.
    pub product_name: ProductName,
    /// Its price per unit when added.
    pub unit_price: Money,
    /// Number of units.
    pub quantity: Quantity,
    /// `unit_price * quantity`.
    pub line_total: Money,
}

impl OrderLine {
    /// A line of `quantity` units at `unit_price`, with its `line_total`. `decide` rejects any
    /// line whose total would overflow before it exists, so saturating only guards hand-made
    /// data; `evolve` and the read models that load lines back build them here alike.
    pub fn new(
        product_id: ProductId,
        sku: Sku,
        product_name: ProductName,
        unit_price: Money,
        quantity: Quantity,
    ) -> Self {
        Self {
            product_id,
            sku,
            product_name,
            unit_price,
            quantity,
            line_total: line_total(unit_price, quantity),
        }
    }

    /// Sets the quantity and the line total with it.
    pub fn set_quantity(&mut self, quantity: Quantity) {
        self.quantity = quantity;
        self.line_total = line_total(self.unit_price, quantity);
    }
}

/// See [`OrderLine::new`].
fn line_total(price: Money, quantity: Quantity) -> Money {
    price.times(quantity).unwrap_or(Money::MAX)
}

/// The current state of one order. The stream version is not here: the event envelope has it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    /// Whether the order has been placed (the default state stands for "no such order").
    pub exists: bool,
    /// Set once placed.
    pub order_id: Option<OrderId>,
    /// Set once placed.
    pub customer_id: Option<CustomerId>,
    /// Set once placed.
    pub customer_name: Option<CustomerName>,
    /// Lifecycle status (meaningless until `exists`).
    pub status: OrderStatus,
    /// Lines in the order they were added.
    pub lines: Vec<OrderLine>,
    /// Sum of the line totals.
    pub total: Money,
    /// Set once shipped.
    pub carrier: Option<Carrier>,
    /// Set once shipped.
    pub tracking_number: Option<TrackingNumber>,
    /// Set once cancelled.
    pub cancel_reason: Option<Reason>,
}

impl OrderState {
    /// The line for `product_id`, if any.
    pub fn line(&self, product_id: ProductId) -> Option<&OrderLine> {
        self.lines.iter().find(|l| l.product_id == product_id)
    }

    /// Sum of the line totals: what `total` always is. Recomputed rather than adjusted
    /// incrementally, so the total can never drift from the lines.
    pub fn lines_total(&self) -> Money {
        self.lines
            .iter()
            .fold(Money::ZERO, |acc, l| acc.saturating_add(l.line_total))
    }

    /// Number of units over all lines.
    pub fn item_count(&self) -> u32 {
        // `decide` keeps this at 100 x 10,000; saturating only guards hand-made states.
        self.lines
            .iter()
            .fold(0u32, |n, l| n.saturating_add(l.quantity.get()))
    }
}
