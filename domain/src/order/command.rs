//! What callers can ask of an order.

use crate::ids::{CustomerId, OrderId, ProductId};
use crate::order::OrderAction;
use crate::values::{
    Carrier, CustomerName, Money, ProductName, Quantity, Reason, Sku, TrackingNumber,
};

/// A command to the Order aggregate. Fields are already-validated values, so `decide` only
/// checks business rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// Opens a new draft order.
    Place {
        /// The new order's id.
        order_id: OrderId,
        /// Who orders.
        customer_id: CustomerId,
        /// The customer's name at ordering time (copied so the order reads on its own).
        customer_name: CustomerName,
    },
    /// Opens a new draft order with its first lines, all at once: one `OrderPlaced` and one
    /// `ItemAdded` per line, or (if any line breaks a rule) nothing at all.
    PlaceWithLines {
        /// The new order's id.
        order_id: OrderId,
        /// Who orders.
        customer_id: CustomerId,
        /// The customer's name at ordering time.
        customer_name: CustomerName,
        /// The lines, in the order given; each is checked like an `AddItem`.
        lines: Vec<PricedLine>,
    },
    /// Adds a product line to a draft; the product's details are copied at this moment.
    AddItem {
        /// The product.
        product_id: ProductId,
        /// Its SKU.
        sku: Sku,
        /// Its name.
        product_name: ProductName,
        /// Its price per unit.
        unit_price: Money,
        /// How many units.
        quantity: Quantity,
    },
    /// Removes a product's line from a draft.
    RemoveItem {
        /// The product.
        product_id: ProductId,
    },
    /// Sets a line's quantity on a draft.
    ChangeQuantity {
        /// The product.
        product_id: ProductId,
        /// The new quantity.
        quantity: Quantity,
    },
    /// Freezes a draft with at least one line.
    Confirm,
    /// Records that a confirmed order left with a carrier.
    Ship {
        /// Shipping company.
        carrier: Carrier,
        /// Its tracking number.
        tracking_number: TrackingNumber,
    },
    /// Records that a shipped order arrived.
    MarkDelivered,
    /// Calls off an order that is not yet delivered.
    Cancel {
        /// Why.
        reason: Reason,
    },
}

/// A product line with the product's details copied at ordering time (see
/// [`OrderCommand::AddItem`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    /// The product.
    pub product_id: ProductId,
    /// Its SKU.
    pub sku: Sku,
    /// Its name.
    pub product_name: ProductName,
    /// Its price per unit.
    pub unit_price: Money,
    /// How many units.
    pub quantity: Quantity,
}

impl PricedLine {
    /// The `AddItem` command of this line.
    pub fn add_item(&self) -> OrderCommand {
        OrderCommand::AddItem {
            product_id: self.product_id,
            sku: self.sku.clone(),
            product_name: self.product_name.clone(),
            unit_price: self.unit_price,
            quantity: self.quantity,
        }
    }
}

impl OrderCommand {
    /// The UI action this command corresponds to (`None` for `Place` and `PlaceWithLines`,
    /// which have no order yet).
    pub fn action(&self) -> Option<OrderAction> {
        Some(match self {
            Self::Place { .. } | Self::PlaceWithLines { .. } => return None,
            Self::AddItem { .. } => OrderAction::AddItem,
            Self::RemoveItem { .. } => OrderAction::RemoveItem,
            Self::ChangeQuantity { .. } => OrderAction::ChangeQuantity,
            Self::Confirm => OrderAction::Confirm,
            Self::Ship { .. } => OrderAction::Ship,
            Self::MarkDelivered => OrderAction::MarkDelivered,
            Self::Cancel { .. } => OrderAction::Cancel,
        })
    }
}
