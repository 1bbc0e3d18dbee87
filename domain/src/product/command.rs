//! What callers can ask of a product.

use crate::ids::ProductId;
use crate::values::{Money, ProductName, Sku};

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
}
