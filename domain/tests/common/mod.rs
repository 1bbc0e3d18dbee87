//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use domain::customer::{CustomerEvent, CustomerRegistered};
use domain::order::{ItemAdded, OrderConfirmed, OrderEvent, OrderPlaced, OrderShipped};
use domain::product::{ProductCreated, ProductEvent};
use domain::values::*;
use domain::{CustomerId, OrderId, ProductId};
use uuid::Uuid;

pub fn order_id() -> OrderId {
    OrderId::new(Uuid::from_u128(0x0A))
}
pub fn customer_id() -> CustomerId {
    CustomerId::new(Uuid::from_u128(0x0C))
}
pub fn product(n: u128) -> ProductId {
    ProductId::new(Uuid::from_u128(0x1000 + n))
}
pub fn name(s: &str) -> PersonName {
    PersonName::parse(s).unwrap()
}
pub fn pname(s: &str) -> ProductName {
    ProductName::parse(s).unwrap()
}
pub fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}
pub fn cents(c: i64) -> Money {
    Money::from_cents(c).unwrap()
}
pub fn qty(q: u32) -> Quantity {
    Quantity::new(q).unwrap()
}
pub fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}
pub fn reason(s: &str) -> Reason {
    Reason::parse(s).unwrap()
}
pub fn carrier(s: &str) -> Carrier {
    Carrier::parse(s).unwrap()
}
pub fn tracking(s: &str) -> TrackingNumber {
    TrackingNumber::parse(s).unwrap()
}

pub fn placed() -> OrderEvent {
    OrderPlaced {
        order_id: order_id(),
        customer_id: customer_id(),
        customer_name: name("Ada Lovelace"),
    }
    .into()
}

pub fn item_added(n: u128, price_cents: i64, quantity: u32) -> OrderEvent {
    ItemAdded {
        product_id: product(n),
        sku: sku(&format!("SKU-{n}")),
        product_name: pname(&format!("Product {n}")),
        unit_price: cents(price_cents),
        quantity: qty(quantity),
    }
    .into()
}

pub fn confirmed(total: i64, lines: u32, items: u32) -> OrderEvent {
    OrderConfirmed {
        total: cents(total),
        line_count: lines,
        item_count: items,
    }
    .into()
}

pub fn shipped() -> OrderEvent {
    OrderShipped {
        carrier: carrier("DHL"),
        tracking_number: tracking("1Z999"),
    }
    .into()
}

pub fn registered() -> CustomerEvent {
    CustomerRegistered {
        customer_id: customer_id(),
        name: name("Ada Lovelace"),
        email: email("ada@example.com"),
    }
    .into()
}

pub fn created(price_cents: i64) -> ProductEvent {
    ProductCreated {
        product_id: product(1),
        sku: sku("WIDGET-1"),
        name: pname("Widget"),
        price: cents(price_cents),
    }
    .into()
}
