//! Stock across aggregates: what confirming, cancelling and shipping an order do to the
//! products on its lines. Pure rules over the order's and the products' current states; the
//! command service appends the order's event and every product's event in ONE atomic
//! multi-stream append, each stream at the version these states were read at.
//!
//! Why a multi-stream append and not a consistency-boundary (DCB) condition here: a product's
//! stock is the product's own state (on hand, reserved, one reservation per order), folded
//! from its own stream and snapshotted with it, so "reserved never exceeds on hand" is an
//! invariant of each product stream; the expected version of each stream is exactly the
//! boundary the rule needs, and a conflict names the product that moved. A DCB condition is
//! used where no aggregate owns the rule: a customer email is unique across every customer
//! (see `orders::command::customers`).
//!
//! Confirmation reserves every line's quantity or nothing, and a refusal lists every line that
//! lacks stock with what is available, so the customer sees the whole picture at once.

use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate as _;
use crate::error::DomainError;
use crate::ids::{OrderId, ProductId};
use crate::order::OrderState;
use crate::product::{Product, ProductCommand, ProductEvent, ProductState};

/// At or below this many available units a product is low on stock: the dashboard lists it,
/// the catalog highlights it.
pub const LOW_STOCK: i64 = 5;

/// One order line that lacks stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockShortage {
    /// The product (absent only for a product that does not exist).
    pub product_id: Option<ProductId>,
    /// Its SKU.
    pub sku: String,
    /// Units the line asks for.
    pub requested: u32,
    /// Units available.
    pub available: u32,
}

/// The refusal's text: every short line with what it asks and what is available.
pub fn shortage_text(shortages: &[StockShortage]) -> String {
    let lines: Vec<String> = shortages
        .iter()
        .map(|s| {
            format!(
                "{}: {} wanted, {} available",
                s.sku, s.requested, s.available
            )
        })
        .collect();
    format!(
        "Not enough stock to confirm this order ({}).",
        lines.join("; ")
    )
}

/// What one product's stream gets from an order command.
pub type ProductEvents = Vec<(ProductId, Vec<ProductEvent>)>;

/// The reservations confirming `order` needs: one per line, decided against `products` (the
/// current state of every product on the order's lines). All or nothing: any short line
/// refuses the confirmation with every short line listed.
pub fn reserve(
    order_id: OrderId,
    order: &OrderState,
    products: &[(ProductId, ProductState)],
) -> Result<ProductEvents, DomainError> {
    let mut out = Vec::with_capacity(order.lines.len());
    let mut shortages = Vec::new();
    for line in &order.lines {
        let state = products
            .iter()
            .find(|(id, _)| *id == line.product_id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let command = ProductCommand::Reserve {
            order_id,
            quantity: line.quantity,
        };
        match Product::decide(&state, &command) {
            Ok(events) => out.push((line.product_id, events)),
            Err(DomainError::InsufficientStock { shortages: short }) => shortages.extend(short),
            // A product that does not exist (hand-made data) has no stock at all.
            Err(DomainError::ProductNotFound) => shortages.push(StockShortage {
                product_id: Some(line.product_id),
                sku: line.sku.to_string(),
                requested: line.quantity.get(),
                available: 0,
            }),
            Err(other) => return Err(other),
        }
    }
    if shortages.is_empty() {
        Ok(out)
    } else {
        Err(DomainError::InsufficientStock { shortages })
    }
}

/// What cancelling the order gives back: each product's reservation for it (none for a draft,
/// a shipped order, or an order confirmed before stock was kept).
pub fn release(order_id: OrderId, products: &[(ProductId, ProductState)]) -> ProductEvents {
    each(products, &ProductCommand::Release { order_id })
}

/// What shipping the order takes off the shelf: each product's reservation for it.
pub fn ship(order_id: OrderId, products: &[(ProductId, ProductState)]) -> ProductEvents {
    each(products, &ProductCommand::Ship { order_id })
}

fn each(products: &[(ProductId, ProductState)], command: &ProductCommand) -> ProductEvents {
    products
        .iter()
        .filter_map(|(id, state)| match Product::decide(state, command) {
            Ok(events) if !events.is_empty() => Some((*id, events)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::replay;
    use crate::order::OrderLine;
    use crate::product::{ProductCreated, StockReceived};
    use crate::values::{Money, ProductName, Quantity, Sku, StockUnits};

    fn rand_id() -> u128 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        u128::from(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    fn product(sku: &str, on_hand: u32) -> (ProductId, ProductState) {
        let id = ProductId::new(uuid::Uuid::from_u128(rand_id()));
        let events: Vec<ProductEvent> = vec![
            ProductCreated {
                product_id: id,
                sku: Sku::parse(sku).expect("sku"),
                name: ProductName::parse("Thing").expect("name"),
                price: Money::from_cents(100).expect("money"),
            }
            .into(),
            StockReceived {
                quantity: StockUnits::new(on_hand).expect("units"),
            }
            .into(),
        ];
        (id, replay::<Product>(&events))
    }

    fn order(lines: &[(&(ProductId, ProductState), u32)]) -> OrderState {
        OrderState {
            exists: true,
            lines: lines
                .iter()
                .map(|((id, state), q)| {
                    OrderLine::new(
                        *id,
                        state.sku.clone().expect("sku"),
                        state.name.clone().expect("name"),
                        state.price,
                        Quantity::new(*q).expect("qty"),
                    )
                })
                .collect(),
            ..OrderState::default()
        }
    }

    #[test]
    fn confirmation_reserves_every_line_or_lists_every_short_one() {
        let a = product("A-1", 5);
        let b = product("B-1", 1);
        let c = product("C-1", 0);
        let order_id = OrderId::new(uuid::Uuid::from_u128(rand_id()));
        let ok = order(&[(&a, 5), (&b, 1)]);
        let reserved = reserve(order_id, &ok, &[a.clone(), b.clone()]).expect("in stock");
        assert_eq!(reserved.len(), 2);

        let short = order(&[(&a, 2), (&b, 3), (&c, 1)]);
        match reserve(order_id, &short, &[a.clone(), b.clone(), c.clone()]) {
            Err(DomainError::InsufficientStock { shortages }) => {
                let listed: Vec<(&str, u32, u32)> = shortages
                    .iter()
                    .map(|s| (s.sku.as_str(), s.requested, s.available))
                    .collect();
                assert_eq!(listed, [("B-1", 3, 1), ("C-1", 1, 0)]);
            }
            other => panic!("refused: {other:?}"),
        }
    }

    #[test]
    fn release_and_ship_act_only_on_the_orders_reservation() {
        let a = product("A-1", 5);
        let order_id = OrderId::new(uuid::Uuid::from_u128(rand_id()));
        let reserved =
            reserve(order_id, &order(&[(&a, 3)]), std::slice::from_ref(&a)).expect("in stock");
        let after = crate::aggregate::replay_from::<Product>(a.1.clone(), &reserved[0].1);
        assert_eq!(
            (after.on_hand, after.reserved, after.available()),
            (5, 3, 2)
        );
        let other = OrderId::new(uuid::Uuid::from_u128(rand_id()));
        assert!(release(other, &[(a.0, after.clone())]).is_empty());
        let shipped = ship(order_id, &[(a.0, after.clone())]);
        let done = crate::aggregate::replay_from::<Product>(after.clone(), &shipped[0].1);
        assert_eq!((done.on_hand, done.reserved), (2, 0));
        let released = release(order_id, &[(a.0, after.clone())]);
        let back = crate::aggregate::replay_from::<Product>(after, &released[0].1);
        assert_eq!((back.on_hand, back.reserved), (5, 0));
    }
}
