//! Order lifecycle: statuses, and which actions each one allows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::order::OrderEvent;

/// Where an order is in its lifecycle: Draft -> Confirmed -> Shipped -> Delivered, or
/// Cancelled from any of the first three.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrderStatus {
    /// Being put together; lines can change.
    #[default]
    Draft,
    /// Lines are final; waiting to be shipped.
    Confirmed,
    /// Handed to a carrier.
    Shipped,
    /// Received by the customer; final.
    Delivered,
    /// Called off; final.
    Cancelled,
}

/// A user-facing action on an existing order (every `OrderCommand` but `Place`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    /// `OrderCommand::AddItem`.
    AddItem,
    /// `OrderCommand::RemoveItem`.
    RemoveItem,
    /// `OrderCommand::ChangeQuantity`.
    ChangeQuantity,
    /// `OrderCommand::Confirm`.
    Confirm,
    /// `OrderCommand::Ship`.
    Ship,
    /// `OrderCommand::MarkDelivered`.
    MarkDelivered,
    /// `OrderCommand::Cancel`.
    Cancel,
}

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OrderStatus; 5] = [
        Self::Draft,
        Self::Confirmed,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// The snake_case name used in JSON, URLs and `FromStr`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// A capitalized label for display, e.g. `"Shipped"`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::Confirmed => "Confirmed",
            Self::Shipped => "Shipped",
            Self::Delivered => "Delivered",
            Self::Cancelled => "Cancelled",
        }
    }

    /// Whether nothing can happen to the order any more.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled)
    }

    /// The actions this status allows, judged on the status alone (e.g. `Confirm` is listed
    /// for a draft even though `decide` also needs at least one line). The UI shows only these.
    pub const fn allowed_actions(self) -> &'static [OrderAction] {
        use OrderAction::*;
        match self {
            Self::Draft => &[AddItem, RemoveItem, ChangeQuantity, Confirm, Cancel],
            Self::Confirmed => &[Ship, Cancel],
            Self::Shipped => &[MarkDelivered, Cancel],
            Self::Delivered | Self::Cancelled => &[],
        }
    }

    /// Whether `action` is in [`Self::allowed_actions`].
    pub fn allows(self, action: OrderAction) -> bool {
        self.allowed_actions().contains(&action)
    }

    /// The status an order has after `event`: the one place that says which event leads where.
    /// [`Order::evolve`](crate::Aggregate::evolve) and the read models that keep a status both
    /// follow it. Events that change only lines keep `self`.
    pub const fn after(self, event: &OrderEvent) -> OrderStatus {
        match event {
            OrderEvent::Placed(_) => Self::Draft,
            OrderEvent::ItemAdded(_)
            | OrderEvent::ItemRemoved(_)
            | OrderEvent::ItemQuantityChanged(_) => self,
            OrderEvent::Confirmed(_) => Self::Confirmed,
            OrderEvent::Shipped(_) => Self::Shipped,
            OrderEvent::Delivered(_) => Self::Delivered,
            OrderEvent::Cancelled(_) => Self::Cancelled,
        }
    }

    /// Whether an order may move from `self` to `next` (staying put is not a transition).
    pub const fn can_transition_to(self, next: OrderStatus) -> bool {
        matches!(
            (self, next),
            (Self::Draft, Self::Confirmed)
                | (Self::Confirmed, Self::Shipped)
                | (Self::Shipped, Self::Delivered)
                | (
                    Self::Draft | Self::Confirmed | Self::Shipped,
                    Self::Cancelled
                )
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ValidationError::UnknownOrderStatus(s.to_owned()))
    }
}

impl OrderAction {
    /// The snake_case name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AddItem => "add_item",
            Self::RemoveItem => "remove_item",
            Self::ChangeQuantity => "change_quantity",
            Self::Confirm => "confirm",
            Self::Ship => "ship",
            Self::MarkDelivered => "mark_delivered",
            Self::Cancel => "cancel",
        }
    }

    /// A button label, e.g. `"Mark delivered"`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::AddItem => "Add item",
            Self::RemoveItem => "Remove item",
            Self::ChangeQuantity => "Change quantity",
            Self::Confirm => "Confirm",
            Self::Ship => "Ship",
            Self::MarkDelivered => "Mark delivered",
            Self::Cancel => "Cancel",
        }
    }
}

impl fmt::Display for OrderAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CustomerId, OrderId, ProductId};
    use crate::order::{
        ItemQuantityChanged, ItemRemoved, OrderCancelled, OrderConfirmed, OrderDelivered,
        OrderPlaced, OrderShipped,
    };
    use crate::values::{Carrier, CustomerName, Money, Quantity, Reason, TrackingNumber};

    #[test]
    fn after_moves_only_on_lifecycle_events() -> Result<(), ValidationError> {
        let product_id = ProductId::new(uuid::Uuid::from_u128(1));
        let placed: OrderEvent = OrderPlaced {
            order_id: OrderId::new(uuid::Uuid::from_u128(2)),
            customer_id: CustomerId::new(uuid::Uuid::from_u128(3)),
            customer_name: CustomerName::parse("Ada")?,
        }
        .into();
        let line_events: [OrderEvent; 2] = [
            ItemRemoved { product_id }.into(),
            ItemQuantityChanged {
                product_id,
                quantity: Quantity::new(2)?,
            }
            .into(),
        ];
        let moves: [(OrderEvent, OrderStatus); 4] = [
            (
                OrderConfirmed {
                    total: Money::from_cents(100)?,
                    line_count: 1,
                    item_count: 1,
                }
                .into(),
                OrderStatus::Confirmed,
            ),
            (
                OrderShipped {
                    carrier: Carrier::parse("DHL")?,
                    tracking_number: TrackingNumber::parse("TRK1")?,
                }
                .into(),
                OrderStatus::Shipped,
            ),
            (OrderDelivered {}.into(), OrderStatus::Delivered),
            (
                OrderCancelled {
                    reason: Reason::parse("changed my mind")?,
                    previous_status: OrderStatus::Draft,
                }
                .into(),
                OrderStatus::Cancelled,
            ),
        ];
        for status in OrderStatus::ALL {
            assert_eq!(status.after(&placed), OrderStatus::Draft);
            for e in &line_events {
                assert_eq!(status.after(e), status, "{e:?}");
            }
            for (e, next) in &moves {
                assert_eq!(status.after(e), *next, "{e:?}");
            }
        }
        Ok(())
    }
}
