//! What can happen to an order. Payloads carry what projections need, so read models never
//! have to load the aggregate.

use serde::{Deserialize, Serialize};

use crate::ids::{CustomerId, OrderId, ProductId};
use crate::order::OrderStatus;
use crate::values::{
    Carrier, CustomerName, Money, ProductName, Quantity, Reason, Sku, TrackingNumber,
};

/// A draft order was opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// The order.
    pub order_id: OrderId,
    /// Who ordered.
    pub customer_id: CustomerId,
    /// The customer's name when ordering.
    pub customer_name: CustomerName,
}

/// A product line was added. Schema v2: price in integer cents (`unit_price_cents`); v1 had a
/// decimal string `unit_price`, see `crate::upcast::item_added_v1_to_v2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemAdded {
    /// The product.
    pub product_id: ProductId,
    /// Its SKU.
    pub sku: Sku,
    /// Its name.
    pub product_name: ProductName,
    /// Price per unit, stored as integer cents.
    #[serde(rename = "unit_price_cents")]
    pub unit_price: Money,
    /// Number of units.
    pub quantity: Quantity,
}

/// A product line was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRemoved {
    /// The product whose line was removed.
    pub product_id: ProductId,
}

/// A line's quantity was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemQuantityChanged {
    /// The product whose line changed.
    pub product_id: ProductId,
    /// The new quantity.
    pub quantity: Quantity,
}

/// The order's lines were frozen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderConfirmed {
    /// Order total, stored as integer cents.
    #[serde(rename = "total_cents")]
    pub total: Money,
    /// Number of lines (distinct products).
    pub line_count: u32,
    /// Number of units over all lines.
    pub item_count: u32,
}

/// The order left with a carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderShipped {
    /// Shipping company.
    pub carrier: Carrier,
    /// Its tracking number.
    pub tracking_number: TrackingNumber,
}

/// The order arrived. No payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderDelivered {}

/// The order was called off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    /// Why.
    pub reason: Reason,
    /// The status it was cancelled from (draft, confirmed or shipped).
    pub previous_status: OrderStatus,
}

event_enum! {
    /// Every event of the Order aggregate.
    OrderEvent {
        /// See [`OrderPlaced`].
        Placed(OrderPlaced) = ("OrderPlaced", 1),
        /// See [`ItemAdded`].
        ItemAdded(ItemAdded) = ("ItemAdded", 2),
        /// See [`ItemRemoved`].
        ItemRemoved(ItemRemoved) = ("ItemRemoved", 1),
        /// See [`ItemQuantityChanged`].
        ItemQuantityChanged(ItemQuantityChanged) = ("ItemQuantityChanged", 1),
        /// See [`OrderConfirmed`].
        Confirmed(OrderConfirmed) = ("OrderConfirmed", 1),
        /// See [`OrderShipped`].
        Shipped(OrderShipped) = ("OrderShipped", 1),
        /// See [`OrderDelivered`].
        Delivered(OrderDelivered) = ("OrderDelivered", 1),
        /// See [`OrderCancelled`].
        Cancelled(OrderCancelled) = ("OrderCancelled", 1),
    }
}
