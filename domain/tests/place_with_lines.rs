//! Placing an order with its lines: one decision, all lines or none.

mod common;

use common::*;
use domain::DomainError;
use domain::order::*;
use domain::testing::given;

fn line(n: u128, price: i64, q: u32) -> PricedLine {
    PricedLine {
        product_id: product(n),
        sku: sku(&format!("SKU-{n}")),
        product_name: pname(&format!("Product {n}")),
        unit_price: cents(price),
        quantity: qty(q),
    }
}

fn place(lines: Vec<PricedLine>) -> OrderCommand {
    OrderCommand::PlaceWithLines {
        order_id: order_id(),
        customer_id: customer_id(),
        customer_name: name("Ada Lovelace"),
        lines,
    }
}

#[test]
fn placing_with_lines_places_and_adds_each_line() {
    let state = given::<Order>([])
        .when(place(vec![line(1, 250, 2), line(2, 1000, 1)]))
        .then_expect_events(vec![
            placed(),
            item_added(1, 250, 2),
            item_added(2, 1000, 1),
        ]);
    assert_eq!(state.status, OrderStatus::Draft);
    assert_eq!(state.lines.len(), 2);
    assert_eq!(state.total, cents(1500));
}

#[test]
fn placing_without_lines_is_a_plain_placement() {
    given::<Order>([])
        .when(place(Vec::new()))
        .then_expect_events(vec![placed()]);
}

#[test]
fn one_refused_line_refuses_the_whole_placement() {
    given::<Order>([])
        .when(place(vec![line(1, 250, 1), line(1, 250, 3)]))
        .then_expect_error(DomainError::ProductAlreadyInOrder {
            product_id: product(1),
        });
    let too_many: Vec<PricedLine> = (0..=MAX_LINES as u128).map(|n| line(n, 1, 1)).collect();
    given::<Order>([])
        .when(place(too_many))
        .then_expect_error(DomainError::TooManyOrderLines { max: MAX_LINES });
    given::<Order>([])
        .when(place(vec![
            line(1, i64::MAX / 2, 1),
            line(2, i64::MAX / 2, 3),
        ]))
        .then_expect_error("order_total_too_high");
}

#[test]
fn placing_an_existing_order_is_refused() {
    given::<Order>([placed()])
        .when(place(vec![line(1, 250, 1)]))
        .then_expect_error(DomainError::OrderAlreadyExists);
}
