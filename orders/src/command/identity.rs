//! The request identity of a command: what an idempotency key is compared with.
//!
//! A retry with the same key must be recognised as the same request after a deploy, so the
//! identity cannot be `Debug` output (which changes with any field or type rename). It is a
//! canonical JSON text written here, field by field, with names chosen for this purpose only:
//! object keys sorted, no whitespace, values in their plain form (UUIDs as text, money in
//! cents, quantities as numbers). `orders/tests/request_identity.rs` pins the identity of every
//! command kind, so changing one is a visible, deliberate decision.
//!
//! Use cases whose command copies data from other aggregates (a product's price into an order
//! line, a customer's name into an order) identify the *request* (which product, how many), not
//! the built command: a retry after a reprice is still the same request.

use domain::customer::CustomerCommand;
use domain::order::OrderCommand;
use domain::product::ProductCommand;
use domain::values::Quantity;
use domain::{CustomerId, ProductId};
use serde_json::{Map, Value, json};

/// A command that can say which request it is (see the module docs).
pub trait RequestIdentity {
    /// The canonical identity of this command.
    fn identity(&self) -> String;
}

/// Canonical text of `value`: object keys sorted at every level, no whitespace. Independent of
/// serde_json's `preserve_order` feature (which another crate may switch on).
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(*key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `{"command": name, ...fields}` in canonical form.
fn of(name: &str, fields: Value) -> String {
    let mut map = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    map.insert("command".to_owned(), Value::String(name.to_owned()));
    canonical(&Value::Object(map))
}

/// The request "place an order for `customer_id` with these lines" (the customer's name and the
/// products' details are looked up, not part of the request).
pub fn place_order(customer_id: CustomerId, lines: &[(ProductId, Quantity)]) -> String {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(product, quantity)| json!({ "product_id": product.to_string(), "quantity": quantity.get() }))
        .collect();
    of(
        "place_order",
        json!({ "customer_id": customer_id.to_string(), "lines": lines }),
    )
}

/// The request "add `quantity` of `product_id`" (the product's details are looked up).
pub fn add_item(product_id: ProductId, quantity: Quantity) -> String {
    of(
        "add_item",
        json!({ "product_id": product_id.to_string(), "quantity": quantity.get() }),
    )
}

impl RequestIdentity for OrderCommand {
    fn identity(&self) -> String {
        match self {
            Self::Place {
                order_id,
                customer_id,
                customer_name,
            } => of(
                "place",
                json!({
                    "order_id": order_id.to_string(),
                    "customer_id": customer_id.to_string(),
                    "customer_name": customer_name.as_str(),
                }),
            ),
            Self::PlaceWithLines {
                order_id,
                customer_id,
                customer_name,
                lines,
            } => {
                let lines: Vec<Value> = lines
                    .iter()
                    .map(|l| {
                        json!({
                            "product_id": l.product_id.to_string(),
                            "sku": l.sku.as_str(),
                            "product_name": l.product_name.as_str(),
                            "unit_price_cents": l.unit_price.cents(),
                            "quantity": l.quantity.get(),
                        })
                    })
                    .collect();
                of(
                    "place_with_lines",
                    json!({
                        "order_id": order_id.to_string(),
                        "customer_id": customer_id.to_string(),
                        "customer_name": customer_name.as_str(),
                        "lines": lines,
                    }),
                )
            }
            Self::AddItem {
                product_id,
                sku,
                product_name,
                unit_price,
                quantity,
            } => of(
                "add_item_priced",
                json!({
                    "product_id": product_id.to_string(),
                    "sku": sku.as_str(),
                    "product_name": product_name.as_str(),
                    "unit_price_cents": unit_price.cents(),
                    "quantity": quantity.get(),
                }),
            ),
            Self::RemoveItem { product_id } => of(
                "remove_item",
                json!({ "product_id": product_id.to_string() }),
            ),
            Self::ChangeQuantity {
                product_id,
                quantity,
            } => of(
                "change_quantity",
                json!({ "product_id": product_id.to_string(), "quantity": quantity.get() }),
            ),
            Self::Confirm => of("confirm", json!({})),
            Self::Ship {
                carrier,
                tracking_number,
            } => of(
                "ship",
                json!({ "carrier": carrier.as_str(), "tracking_number": tracking_number.as_str() }),
            ),
            Self::MarkDelivered => of("deliver", json!({})),
            Self::Cancel { reason } => of("cancel", json!({ "reason": reason.as_str() })),
        }
    }
}

impl RequestIdentity for CustomerCommand {
    fn identity(&self) -> String {
        match self {
            Self::Register {
                customer_id,
                name,
                email,
            } => of(
                "register_customer",
                json!({
                    "customer_id": customer_id.to_string(),
                    "name": name.as_str(),
                    "email": email.as_str(),
                }),
            ),
            Self::Rename { name } => of("rename_customer", json!({ "name": name.as_str() })),
            Self::ChangeEmail { email } => of("change_email", json!({ "email": email.as_str() })),
            Self::Erase { reason } => of("erase_customer", json!({ "reason": reason.as_str() })),
        }
    }
}

impl RequestIdentity for ProductCommand {
    fn identity(&self) -> String {
        match self {
            Self::Create {
                product_id,
                sku,
                name,
                price,
                initial_stock,
            } => {
                let mut fields = json!({
                    "product_id": product_id.to_string(),
                    "sku": sku.as_str(),
                    "name": name.as_str(),
                    "price_cents": price.cents(),
                });
                // Only when there is any: a request made before stock existed keeps its
                // identity (its idempotency key still answers its result).
                if initial_stock.get() > 0 {
                    fields["initial_stock"] = json!(initial_stock.get());
                }
                of("create_product", fields)
            }
            Self::Reprice { price } => of("reprice", json!({ "price_cents": price.cents() })),
            Self::Rename { name } => of("rename_product", json!({ "name": name.as_str() })),
            Self::Discontinue => of("discontinue", json!({})),
            Self::ReceiveStock { quantity } => {
                of("receive_stock", json!({ "quantity": quantity.get() }))
            }
            Self::CorrectStock { on_hand, reason } => of(
                "correct_stock",
                json!({ "on_hand": on_hand.get(), "reason": reason.as_str() }),
            ),
            Self::Reserve { order_id, quantity } => of(
                "reserve_stock",
                json!({ "order_id": order_id.to_string(), "quantity": quantity.get() }),
            ),
            Self::Release { order_id } => {
                of("release_stock", json!({ "order_id": order_id.to_string() }))
            }
            Self::Ship { order_id } => {
                of("ship_stock", json!({ "order_id": order_id.to_string() }))
            }
        }
    }
}

impl RequestIdentity for domain::account::AccountCommand {
    fn identity(&self) -> String {
        use domain::account::AccountCommand as C;
        match self {
            C::Open {
                account_id,
                username,
                display_name,
                role,
                customer_id,
            } => of(
                "open_account",
                json!({
                    "account_id": account_id.to_string(),
                    "username": username.as_str(),
                    "display_name": display_name.as_str(),
                    "role": role.as_str(),
                    "customer_id": customer_id.map(|c| c.to_string()),
                }),
            ),
            C::ChangeRole { role } => of("change_role", json!({ "role": role.as_str() })),
            C::Disable { reason } => of("disable_account", json!({ "reason": reason.as_str() })),
            C::Enable => of("enable_account", json!({})),
            C::IssueToken { token_id, name } => of(
                "issue_token",
                json!({ "token_id": token_id.to_string(), "name": name.as_str() }),
            ),
            C::RevokeToken { token_id } => {
                of("revoke_token", json!({ "token_id": token_id.to_string() }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let value = json!({ "b": [ { "z": 1, "a": "x" } ], "a": null });
        assert_eq!(canonical(&value), r#"{"a":null,"b":[{"a":"x","z":1}]}"#);
    }
}
