//! What can happen to a product.

use serde::{Deserialize, Serialize};

use crate::ids::ProductId;
use crate::values::{Money, ProductName, Sku};

/// A product was added to the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCreated {
    /// The product.
    pub product_id: ProductId,
    /// Its SKU.
    pub sku: Sku,
    /// Its name.
    pub name: ProductName,
    /// Its price per unit, stored as integer cents.
    #[serde(rename = "price_cents")]
    pub price: Money,
}

/// A product's price changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRepriced {
    /// The new price, stored as integer cents.
    #[serde(rename = "price_cents")]
    pub price: Money,
    /// The price before, so price-history projections need no lookup.
    #[serde(rename = "previous_price_cents")]
    pub previous_price: Money,
}

/// A product's name changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRenamed {
    /// The new name.
    pub name: ProductName,
}

/// A product was taken off sale. No payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProductDiscontinued {}

event_enum! {
    /// Every event of the Product aggregate.
    ProductEvent {
        /// See [`ProductCreated`].
        Created(ProductCreated) = ("ProductCreated", 1),
        /// See [`ProductRepriced`].
        Repriced(ProductRepriced) = ("ProductRepriced", 1),
        /// See [`ProductRenamed`].
        Renamed(ProductRenamed) = ("ProductRenamed", 1),
        /// See [`ProductDiscontinued`].
        Discontinued(ProductDiscontinued) = ("ProductDiscontinued", 1),
    }
}
