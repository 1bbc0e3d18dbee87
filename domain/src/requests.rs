//! What callers send: the inputs of every use case, shared by the REST API (JSON bodies), the
//! Leptos server functions and the browser. Plain data, not yet validated: the application
//! layer (`orders::application`) turns each into a validated command, so both ways in accept
//! and refuse exactly the same things. Unknown fields are refused.

#![allow(missing_docs)] // plain data shapes: the field names say what they hold

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Place an order, with its first lines (all or nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// The new order's id; derived from the idempotency key (or new) when absent.
    #[serde(default)]
    pub order_id: Option<Uuid>,
    pub customer_id: Uuid,
    /// Lines added in the same atomic append; may be empty (a draft to fill later).
    #[serde(default)]
    pub lines: Vec<NewLine>,
}

/// One line of a new order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLine {
    pub product_id: Uuid,
    /// Any integer: out-of-range values get the domain's message.
    pub quantity: i64,
}

/// Add a product line to a draft order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    pub product_id: Uuid,
    pub quantity: i64,
}

/// Set a line's quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeQuantity {
    pub quantity: i64,
}

/// Ship a confirmed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipOrder {
    pub carrier: String,
    pub tracking_number: String,
}

/// Cancel an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelOrder {
    pub reason: String,
}

/// Register a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterCustomer {
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    pub name: String,
    pub email: String,
}

/// Rename a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameCustomer {
    pub name: String,
}

/// Change a customer's email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmail {
    pub email: String,
}

/// Create a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[serde(default)]
    pub product_id: Option<Uuid>,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    /// Units on hand from the start (default 0).
    #[serde(default)]
    pub initial_stock: Option<i64>,
}

/// Units arrived for a product (staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiveStock {
    pub quantity: i64,
}

/// Set a product's stock on hand to a counted number (staff), with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectStock {
    pub on_hand: i64,
    pub reason: String,
}

/// Set a product's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepriceProduct {
    pub price_cents: i64,
}

/// Rename a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameProduct {
    pub name: String,
}

/// Skip the event a projection faulted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipEvent {
    pub reason: String,
}

/// Filter of the order list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListOrders {
    /// An order status (`draft`, `confirmed`...); empty means any.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub customer: Option<Uuid>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub min_position: Option<i64>,
}

/// Which page of a list (customers, products): after the previous page's `next_cursor`, at
/// most `limit` rows (default and bound are the query side's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Filter of the stream browser.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListStreams {
    #[serde(default, rename = "type")]
    pub stream_type: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Filter of the event browser (the whole log). Every field is optional; all given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchEvents {
    /// Event type, e.g. `OrderPlaced`.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// Stream type: `order`, `customer`, `product`, ...
    #[serde(default)]
    pub stream_type: Option<String>,
    /// A stream id, its prefix, or the short id lists show (its last characters).
    #[serde(default)]
    pub stream: Option<String>,
    /// The acting user's id.
    #[serde(default)]
    pub user: Option<String>,
    /// A correlation id, or its short id (the last 8 hex digits lists show).
    #[serde(default)]
    pub correlation: Option<String>,
    /// RFC 3339: recorded at or after.
    #[serde(default)]
    pub from: Option<String>,
    /// RFC 3339: recorded before.
    #[serde(default)]
    pub to: Option<String>,
    /// `newest` (default) or `oldest` first.
    #[serde(default)]
    pub order: Option<String>,
    /// The previous page's `next_after`.
    #[serde(default)]
    pub after: Option<i64>,
    #[serde(default)]
    pub limit: Option<u32>,
}

// ---- identity ----

/// Sign up as a customer: opens the account and registers its customer together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    pub username: String,
    pub password: String,
    pub name: String,
    pub email: String,
}

/// Sign in with a username and password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

/// An admin creates a staff or admin account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    pub password: String,
    pub display_name: String,
    /// `staff` or `admin` (customers sign up themselves).
    pub role: String,
}

/// An admin changes an account's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: String,
}

/// An admin disables an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableUser {
    pub reason: String,
}

/// Create a personal API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
}
