//! What can happen to a product.

use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, ProductId};
use crate::values::{Money, ProductName, Quantity, Reason, Sku, StockUnits};

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

/// Units arrived (a delivery from a supplier, a return to the shelf).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReceived {
    /// Units received.
    pub quantity: StockUnits,
}

/// The units on hand were counted and set (a stocktake, breakage, a correction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockCorrected {
    /// Units on hand now.
    pub on_hand: StockUnits,
    /// Units on hand before.
    pub previous: StockUnits,
    /// Why.
    pub reason: Reason,
}

/// A confirmed order reserved units (appended with the order's `OrderConfirmed`, atomically).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReserved {
    /// The order.
    pub order_id: OrderId,
    /// Units reserved.
    pub quantity: Quantity,
}

/// A cancelled order gave its reservation back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReleased {
    /// The order.
    pub order_id: OrderId,
    /// Units released.
    pub quantity: Quantity,
}

/// A shipped order took its reserved units off the shelf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockShipped {
    /// The order.
    pub order_id: OrderId,
    /// Units shipped.
    pub quantity: Quantity,
}

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
        /// See [`StockReceived`].
        StockReceived(StockReceived) = ("StockReceived", 1),
        /// See [`StockCorrected`].
        StockCorrected(StockCorrected) = ("StockCorrected", 1),
        /// See [`StockReserved`].
        StockReserved(StockReserved) = ("StockReserved", 1),
        /// See [`StockReleased`].
        StockReleased(StockReleased) = ("StockReleased", 1),
        /// See [`StockShipped`].
        StockShipped(StockShipped) = ("StockShipped", 1),
    }
}
