//! Every way a command or an input can be rejected, as typed values.
//!
//! Callers match on variants or on the stable [`DomainError::code`]; the `Display` text is
//! written for end users (the web UI shows it as is), so it never contains ids or Rust names.

use crate::ids::ProductId;
use crate::order::OrderStatus;

/// Input that does not satisfy a value type's rules (see `crate::values`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A quantity outside 1..=10,000.
    #[error("Quantity must be between 1 and 10,000 (got {0}).")]
    QuantityOutOfRange(i64),
    /// A stock count outside 0..=1,000,000,000.
    #[error("A stock count must be between 0 and 1,000,000,000 (got {0}).")]
    StockOutOfRange(i64),
    /// A stock count that is not a whole number.
    #[error("A stock count must be a whole number.")]
    StockNotANumber,
    /// A quantity that is not a whole number.
    #[error("Quantity must be a whole number between 1 and 10,000.")]
    QuantityNotANumber,
    /// A negative amount of money.
    #[error("An amount of money cannot be negative.")]
    NegativeMoney,
    /// An amount, or a sum or product of amounts, too large to represent.
    #[error("That amount is too large.")]
    MoneyOverflow,
    /// A price per unit above `Money::MAX_PRICE`.
    #[error("A price can be at most 1,000,000.00 per unit.")]
    PriceTooHigh,
    /// A money string that is not of the form `12`, `12.3` or `12.34`.
    #[error("\"{0}\" is not a valid amount; use a format like 12.34.")]
    InvalidMoneyFormat(String),
    /// An email address that does not look like `name@example.com`.
    #[error("Please enter a valid email address, like name@example.com.")]
    InvalidEmail,
    /// An email address longer than 254 characters.
    #[error("Email addresses can be at most 254 characters long.")]
    EmailTooLong,
    /// A required text field that is empty or only whitespace.
    #[error("{field} cannot be empty.")]
    Empty {
        /// The field, as users see it ("Name", "Reason", ...).
        field: &'static str,
    },
    /// A text field over its length limit.
    #[error("{field} can be at most {max} characters long.")]
    TooLong {
        /// The field, as users see it.
        field: &'static str,
        /// The limit, in characters.
        max: usize,
    },
    /// A text field containing characters it does not allow (control characters, or
    /// characters outside a restricted alphabet).
    #[error("{field} contains characters that are not allowed.")]
    InvalidCharacters {
        /// The field, as users see it.
        field: &'static str,
    },
    /// A SKU outside `[A-Z0-9-]{1,32}`.
    #[error("A SKU may contain only letters, digits and dashes, and be 1 to 32 characters long.")]
    InvalidSku,
    /// A string that is not a UUID where an id was expected.
    #[error("\"{0}\" is not a valid id.")]
    InvalidId(String),
    /// A string that is not one of the order statuses.
    #[error("\"{0}\" is not a known order status.")]
    UnknownOrderStatus(String),
}

impl ValidationError {
    /// Stable machine-readable code, snake_case.
    pub fn code(&self) -> &'static str {
        match self {
            Self::QuantityOutOfRange(_) => "quantity_out_of_range",
            Self::QuantityNotANumber => "quantity_not_a_number",
            Self::StockOutOfRange(_) => "stock_out_of_range",
            Self::StockNotANumber => "stock_not_a_number",
            Self::NegativeMoney => "money_negative",
            Self::MoneyOverflow => "money_overflow",
            Self::PriceTooHigh => "price_too_high",
            Self::InvalidMoneyFormat(_) => "money_invalid_format",
            Self::InvalidEmail => "email_invalid",
            Self::EmailTooLong => "email_too_long",
            Self::Empty { .. } => "value_empty",
            Self::TooLong { .. } => "value_too_long",
            Self::InvalidCharacters { .. } => "value_invalid_characters",
            Self::InvalidSku => "sku_invalid",
            Self::InvalidId(_) => "id_invalid",
            Self::UnknownOrderStatus(_) => "order_status_unknown",
        }
    }
}

/// Why a command was rejected, or why stored event data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Bad input for a value type.
    #[error(transparent)]
    Validation(#[from] ValidationError),

    // ----- Order -----
    /// `Place` on an order stream that already has an order.
    #[error("This order has already been placed.")]
    OrderAlreadyExists,
    /// Any command but `Place` on an order that was never placed.
    #[error("This order does not exist.")]
    OrderNotFound,
    /// A change to an order that has been cancelled (nothing is allowed after cancellation).
    #[error("This order has been cancelled and can no longer be changed.")]
    OrderCancelled,
    /// A change to an order that has been delivered (nothing is allowed after delivery).
    #[error("This order has been delivered and can no longer be changed.")]
    OrderDelivered,
    /// Items can change, and the order be confirmed, only while it is a draft.
    #[error("This order is {status} and can no longer be edited; only draft orders can.")]
    OrderNotDraft {
        /// The order's current status.
        status: OrderStatus,
    },
    /// Only a confirmed order can be shipped.
    #[error("Only confirmed orders can be shipped; this order is {status}.")]
    OrderNotConfirmed {
        /// The order's current status.
        status: OrderStatus,
    },
    /// Only a shipped order can be marked delivered.
    #[error("Only shipped orders can be marked as delivered; this order is {status}.")]
    OrderNotShipped {
        /// The order's current status.
        status: OrderStatus,
    },
    /// Confirming an order without items.
    #[error("Add at least one item before confirming the order.")]
    OrderHasNoItems,
    /// Adding a line beyond the per-order limit.
    #[error("An order can have at most {max} different products.")]
    TooManyOrderLines {
        /// The limit.
        max: usize,
    },
    /// Adding a product that already has a line (quantities are not merged: use
    /// `ChangeQuantity`, so that a double click cannot silently double an order line).
    #[error("This product is already in the order; change its quantity instead.")]
    ProductAlreadyInOrder {
        /// The product concerned.
        product_id: ProductId,
    },
    /// Removing or changing a product that has no line in the order.
    #[error("This product is not in the order.")]
    ProductNotInOrder {
        /// The product concerned.
        product_id: ProductId,
    },
    /// Changing a line's quantity to the quantity it already has.
    #[error("The quantity is already {quantity}.")]
    QuantityUnchanged {
        /// The unchanged quantity.
        quantity: u32,
    },
    /// The order total would exceed [`crate::values::Money::MAX_ORDER_TOTAL`] (a line total that
    /// cannot even be represented included).
    #[error("An order total can be at most {max}; this change would exceed it.")]
    OrderTotalTooHigh {
        /// The maximum order total.
        max: crate::values::Money,
    },

    // ----- Customer -----
    /// `Register` on a customer that already exists.
    #[error("This customer is already registered.")]
    CustomerAlreadyRegistered,
    /// Any command but `Register` on a customer that was never registered.
    #[error("This customer does not exist.")]
    CustomerNotFound,
    /// Renaming a customer to the name they already have.
    #[error("The customer already has this name.")]
    CustomerNameUnchanged,
    /// Changing a customer's email to the address they already have.
    #[error("The customer already has this email address.")]
    CustomerEmailUnchanged,
    /// A command on a customer whose personal data was erased.
    #[error("This customer's personal data was erased; nothing more can be done with them.")]
    CustomerErased,
    /// Registering, or changing to, an email address another customer has.
    #[error("This email address belongs to another customer.")]
    EmailTaken,

    // ----- Product -----
    /// `Create` on a product that already exists.
    #[error("This product already exists.")]
    ProductAlreadyExists,
    /// Any command but `Create` on a product that was never created.
    #[error("This product does not exist.")]
    ProductNotFound,
    /// A change to a discontinued product.
    #[error("This product has been discontinued and can no longer be changed.")]
    ProductDiscontinued,
    /// Repricing a product to its current price.
    #[error("The product already has this price.")]
    ProductPriceUnchanged,
    /// Renaming a product to its current name.
    #[error("The product already has this name.")]
    ProductNameUnchanged,
    /// Receiving no units.
    #[error("Receive at least one unit.")]
    StockReceiptEmpty,
    /// A receipt that would take the units on hand over [`crate::values::StockUnits::MAX`].
    #[error("A product can have at most 1,000,000,000 units on hand.")]
    StockTooHigh,
    /// A count that sets the units on hand below what confirmed orders have reserved.
    #[error(
        "{reserved} units are reserved by confirmed orders; the stock on hand cannot be set below that."
    )]
    StockBelowReserved {
        /// Units reserved.
        reserved: u32,
    },
    /// A count equal to the units on hand.
    #[error("The stock on hand is already {on_hand}.")]
    StockUnchanged {
        /// Units on hand.
        on_hand: u32,
    },
    /// Confirming an order whose lines are not all in stock: nothing was reserved.
    #[error("{}", crate::stock::shortage_text(shortages))]
    InsufficientStock {
        /// Every line that lacks stock.
        shortages: Vec<crate::stock::StockShortage>,
    },

    // ----- Account -----
    /// An account command was refused.
    #[error(transparent)]
    Account(#[from] crate::account::AccountError),

    // ----- Stored events -----
    /// `from_data` was given an event type this aggregate does not know.
    #[error("Unknown event type \"{event_type}\".")]
    UnknownEventType {
        /// The type name found in storage.
        event_type: String,
    },
    /// `from_data` was given a payload that does not match the event's current schema.
    #[error("Stored data for event \"{event_type}\" is invalid ({reason}).")]
    InvalidEventData {
        /// The type name found in storage.
        event_type: String,
        /// What was wrong, from the deserializer.
        reason: String,
    },
}

impl DomainError {
    /// Stable machine-readable code, snake_case; safe to match on in other crates and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(e) => e.code(),
            Self::OrderAlreadyExists => "order_already_exists",
            Self::OrderNotFound => "order_not_found",
            Self::OrderCancelled => "order_cancelled",
            Self::OrderDelivered => "order_delivered",
            Self::OrderNotDraft { .. } => "order_not_draft",
            Self::OrderNotConfirmed { .. } => "order_not_confirmed",
            Self::OrderNotShipped { .. } => "order_not_shipped",
            Self::OrderHasNoItems => "order_has_no_items",
            Self::TooManyOrderLines { .. } => "too_many_order_lines",
            Self::ProductAlreadyInOrder { .. } => "product_already_in_order",
            Self::ProductNotInOrder { .. } => "product_not_in_order",
            Self::QuantityUnchanged { .. } => "quantity_unchanged",
            Self::OrderTotalTooHigh { .. } => "order_total_too_high",
            Self::CustomerAlreadyRegistered => "customer_already_registered",
            Self::CustomerNotFound => "customer_not_found",
            Self::CustomerNameUnchanged => "customer_name_unchanged",
            Self::CustomerEmailUnchanged => "customer_email_unchanged",
            Self::CustomerErased => "customer_erased",
            Self::EmailTaken => "email_taken",
            Self::ProductAlreadyExists => "product_already_exists",
            Self::ProductNotFound => "product_not_found",
            Self::ProductDiscontinued => "product_discontinued",
            Self::ProductPriceUnchanged => "product_price_unchanged",
            Self::ProductNameUnchanged => "product_name_unchanged",
            Self::StockReceiptEmpty => "stock_receipt_empty",
            Self::StockTooHigh => "stock_too_high",
            Self::StockBelowReserved { .. } => "stock_below_reserved",
            Self::StockUnchanged { .. } => "stock_unchanged",
            Self::InsufficientStock { .. } => "insufficient_stock",
            Self::Account(e) => e.code(),
            Self::UnknownEventType { .. } => "unknown_event_type",
            Self::InvalidEventData { .. } => "invalid_event_data",
        }
    }

    /// Whether the error is about the caller's input or the aggregate's rules (as opposed to
    /// unreadable stored data); servers map the former to 4xx responses.
    pub fn is_rejection(&self) -> bool {
        !matches!(
            self,
            Self::UnknownEventType { .. } | Self::InvalidEventData { .. }
        )
    }
}
