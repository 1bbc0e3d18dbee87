//! What a product's events fold into.

use serde::{Deserialize, Serialize};

use crate::ids::ProductId;
use crate::values::{Money, ProductName, Sku};

/// The current state of one product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductState {
    /// Whether the product has been created.
    pub exists: bool,
    /// Set once created.
    pub product_id: Option<ProductId>,
    /// Set once created.
    pub sku: Option<Sku>,
    /// Set once created.
    pub name: Option<ProductName>,
    /// Current price per unit (zero until created).
    pub price: Money,
    /// Whether it was taken off sale.
    pub discontinued: bool,
}
