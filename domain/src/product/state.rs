//! What a product's events fold into.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, ProductId};
use crate::values::{Money, ProductName, Quantity, Sku};

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
    /// Units on the shelf (reserved ones included).
    #[serde(default)]
    pub on_hand: u32,
    /// Units reserved by confirmed orders not yet shipped or cancelled: the sum of
    /// `reservations`. Never above `on_hand`.
    #[serde(default)]
    pub reserved: u32,
    /// Each open reservation, by order.
    #[serde(default)]
    pub reservations: BTreeMap<OrderId, Quantity>,
}

impl ProductState {
    /// Units that can still be reserved: on hand minus reserved (never negative).
    pub fn available(&self) -> u32 {
        self.on_hand.saturating_sub(self.reserved)
    }
}
