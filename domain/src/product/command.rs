//! What callers can ask of a product.

use crate::ids::{OrderId, ProductId};
use crate::values::{Money, ProductName, Quantity, Reason, Sku, StockUnits};

/// A command to the Product aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductCommand {
    /// Adds a product to the catalogue.
    Create {
        /// The new product's id.
        product_id: ProductId,
        /// Its SKU.
        sku: Sku,
        /// Its name.
        name: ProductName,
        /// Its price per unit.
        price: Money,
        /// Units on hand from the start (none: 0).
        initial_stock: StockUnits,
    },
    /// Sets a new price.
    Reprice {
        /// The new price per unit.
        price: Money,
    },
    /// Sets a new name.
    Rename {
        /// The new name.
        name: ProductName,
    },
    /// Takes the product off sale for good.
    Discontinue,
    /// Adds received units to the stock on hand.
    ReceiveStock {
        /// Units received (at least one).
        quantity: StockUnits,
    },
    /// Sets the stock on hand to a counted number.
    CorrectStock {
        /// Units on hand now.
        on_hand: StockUnits,
        /// Why.
        reason: Reason,
    },
    /// Reserves units for a confirmed order (never more than available).
    Reserve {
        /// The order.
        order_id: OrderId,
        /// Units.
        quantity: Quantity,
    },
    /// Gives an order's reservation back (nothing if it has none).
    Release {
        /// The order.
        order_id: OrderId,
    },
    /// Ships an order's reserved units (nothing if it has no reservation).
    Ship {
        /// The order.
        order_id: OrderId,
    },
}
