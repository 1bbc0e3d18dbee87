//! Commands: each goes through the `orders` command service, which validates every rule before
//! an event is written. `expected_version` is the version the page showed (conflict detection).

use domain::requests;
use domain::views::CommandReply;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::UiError;

/// Places an order with its lines: one command, one atomic append (a refused line leaves no
/// order). `idempotency_key` is the form submission's key: a retried submission answers the
/// first result instead of placing a second order. JSON input: the default URL encoding
/// cannot express an empty list of lines.
#[server(prefix = "/fn", input = leptos::server_fn::codec::Json)]
pub async fn place_order(
    order: requests::PlaceOrder,
    idempotency_key: Option<String>,
) -> Result<CommandReply, UiError> {
    crate::ssr::place_order(order, idempotency_key).await
}

#[server(prefix = "/fn")]
pub async fn add_item(
    order_id: Uuid,
    expected_version: i64,
    product_id: Uuid,
    quantity: u32,
) -> Result<CommandReply, UiError> {
    crate::ssr::add_item(order_id, expected_version, product_id, quantity).await
}

#[server(prefix = "/fn")]
pub async fn remove_item(
    order_id: Uuid,
    expected_version: i64,
    product_id: Uuid,
) -> Result<CommandReply, UiError> {
    crate::ssr::remove_item(order_id, expected_version, product_id).await
}

#[server(prefix = "/fn")]
pub async fn change_quantity(
    order_id: Uuid,
    expected_version: i64,
    product_id: Uuid,
    quantity: u32,
) -> Result<CommandReply, UiError> {
    crate::ssr::change_quantity(order_id, expected_version, product_id, quantity).await
}

/// The status changes of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderTransition {
    Confirm,
    Ship {
        carrier: String,
        tracking_number: String,
    },
    Deliver,
    Cancel {
        reason: String,
    },
}

#[server(prefix = "/fn")]
pub async fn transition_order(
    order_id: Uuid,
    expected_version: i64,
    transition: OrderTransition,
) -> Result<CommandReply, UiError> {
    crate::ssr::transition_order(order_id, expected_version, transition).await
}

/// Erases a customer's personal data (admins): audited with `reason`; their data key is deleted.
#[server(prefix = "/fn")]
pub async fn erase_customer(customer_id: Uuid, reason: String) -> Result<CommandReply, UiError> {
    crate::ssr::erase_customer(customer_id, reason).await
}

#[server(prefix = "/fn")]
pub async fn register_customer(name: String, email: String) -> Result<CommandReply, UiError> {
    crate::ssr::register_customer(name, email).await
}

/// `price` is a decimal like "19.99"; `stock` the units on hand from the start (absent or ""
/// is 0).
#[server(prefix = "/fn")]
pub async fn create_product(
    sku: String,
    name: String,
    price: String,
    #[server(default)] stock: Option<String>,
) -> Result<CommandReply, UiError> {
    crate::ssr::create_product(sku, name, price, stock.unwrap_or_default()).await
}

/// Units arrived for a product; `quantity` is a whole number.
#[server(prefix = "/fn")]
pub async fn receive_stock(product_id: Uuid, quantity: String) -> Result<CommandReply, UiError> {
    crate::ssr::receive_stock(product_id, quantity).await
}

#[server(prefix = "/fn")]
pub async fn reprice_product(
    product_id: Uuid,
    expected_version: i64,
    price: String,
) -> Result<CommandReply, UiError> {
    crate::ssr::reprice_product(product_id, expected_version, price).await
}

#[server(prefix = "/fn")]
pub async fn discontinue_product(
    product_id: Uuid,
    expected_version: i64,
) -> Result<CommandReply, UiError> {
    crate::ssr::discontinue_product(product_id, expected_version).await
}
