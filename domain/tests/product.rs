//! Given/when/then tests for every Product command and rule.

mod common;

use common::*;
use domain::DomainError;
use domain::product::*;
use domain::testing::given;

fn create() -> ProductCommand {
    ProductCommand::Create {
        product_id: product(1),
        sku: sku("widget-1"),
        name: pname("Widget"),
        price: cents(1999),
        initial_stock: domain::values::StockUnits::ZERO,
    }
}

fn units(n: u32) -> domain::values::StockUnits {
    domain::values::StockUnits::new(n).expect("units")
}

fn qty(n: u32) -> domain::values::Quantity {
    domain::values::Quantity::new(n).expect("qty")
}

fn order_id(n: u128) -> domain::OrderId {
    domain::OrderId::new(uuid::Uuid::from_u128(0x0de0_0000 + n))
}

fn received(n: u32) -> ProductEvent {
    StockReceived { quantity: units(n) }.into()
}

fn reserved(order: u128, n: u32) -> ProductEvent {
    StockReserved {
        order_id: order_id(order),
        quantity: qty(n),
    }
    .into()
}

#[test]
fn created_with_stock_receives_it_in_the_same_append() {
    let command = ProductCommand::Create {
        product_id: product(1),
        sku: sku("widget-1"),
        name: pname("Widget"),
        price: cents(1999),
        initial_stock: units(7),
    };
    let state = given::<Product>([])
        .when(command)
        .then_expect_events(vec![created(1999), received(7)]);
    assert_eq!((state.on_hand, state.available()), (7, 7));
}

#[test]
fn reservations_never_exceed_what_is_available() {
    let state = given::<Product>([created(1999), received(5), reserved(1, 3)])
        .when(ProductCommand::Reserve {
            order_id: order_id(2),
            quantity: qty(2),
        })
        .then_expect_events(vec![reserved(2, 2)]);
    assert_eq!(
        (state.on_hand, state.reserved, state.available()),
        (5, 5, 0)
    );
    given::<Product>([created(1999), received(5), reserved(1, 3)])
        .when(ProductCommand::Reserve {
            order_id: order_id(2),
            quantity: qty(3),
        })
        .then_expect_error("insufficient_stock");
    // The same order reserves once.
    given::<Product>([created(1999), received(5), reserved(1, 3)])
        .when(ProductCommand::Reserve {
            order_id: order_id(1),
            quantity: qty(3),
        })
        .then_expect_events(vec![]);
}

#[test]
fn release_gives_back_and_ship_consumes_only_the_orders_reservation() {
    let state = given::<Product>([created(1999), received(5), reserved(1, 3)])
        .when(ProductCommand::Release {
            order_id: order_id(1),
        })
        .then_expect_events(vec![
            StockReleased {
                order_id: order_id(1),
                quantity: qty(3),
            }
            .into(),
        ]);
    assert_eq!((state.on_hand, state.reserved), (5, 0));
    let state = given::<Product>([created(1999), received(5), reserved(1, 3)])
        .when(ProductCommand::Ship {
            order_id: order_id(1),
        })
        .then_expect_events(vec![
            StockShipped {
                order_id: order_id(1),
                quantity: qty(3),
            }
            .into(),
        ]);
    assert_eq!((state.on_hand, state.reserved), (2, 0));
    // An order without a reservation (confirmed before stock was kept) moves nothing.
    given::<Product>([created(1999), received(5)])
        .when(ProductCommand::Ship {
            order_id: order_id(9),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_count_cannot_go_below_what_is_reserved() {
    let reason = domain::values::Reason::parse("stocktake").expect("reason");
    given::<Product>([created(1999), received(5), reserved(1, 3)])
        .when(ProductCommand::CorrectStock {
            on_hand: units(2),
            reason: reason.clone(),
        })
        .then_expect_error("stock_below_reserved");
    given::<Product>([created(1999), received(5)])
        .when(ProductCommand::CorrectStock {
            on_hand: units(5),
            reason: reason.clone(),
        })
        .then_expect_error("stock_unchanged");
    let state = given::<Product>([created(1999), received(5), reserved(1, 3)])
        .when(ProductCommand::CorrectStock {
            on_hand: units(4),
            reason: reason.clone(),
        })
        .then_expect_events(vec![
            StockCorrected {
                on_hand: units(4),
                previous: units(5),
                reason,
            }
            .into(),
        ]);
    assert_eq!(state.available(), 1);
}

#[test]
fn a_discontinued_product_takes_no_new_stock_but_its_orders_still_move() {
    given::<Product>([created(1999), received(5), discontinued()])
        .when(ProductCommand::ReceiveStock { quantity: units(1) })
        .then_expect_error("product_discontinued");
    given::<Product>([created(1999), received(5), reserved(1, 2), discontinued()])
        .when(ProductCommand::Ship {
            order_id: order_id(1),
        })
        .then_expect_events(vec![
            StockShipped {
                order_id: order_id(1),
                quantity: qty(2),
            }
            .into(),
        ]);
    given::<Product>([created(1999)])
        .when(ProductCommand::ReceiveStock { quantity: units(0) })
        .then_expect_error("stock_receipt_empty");
}

fn discontinued() -> ProductEvent {
    ProductDiscontinued {}.into()
}

#[test]
fn create_adds_the_product() {
    let state = given::<Product>([])
        .when(create())
        .then_expect_events(vec![created(1999)]);
    assert!(state.exists);
    assert_eq!(state.sku, Some(sku("WIDGET-1")));
    assert_eq!(state.price, cents(1999));
    assert!(!state.discontinued);
}

#[test]
fn create_twice_is_rejected() {
    given::<Product>([created(1999)])
        .when(create())
        .then_expect_error(DomainError::ProductAlreadyExists);
}

#[test]
fn reprice_changes_the_price_and_remembers_the_old_one() {
    let state = given::<Product>([created(1999)])
        .when(ProductCommand::Reprice { price: cents(2499) })
        .then_expect_events(vec![
            ProductRepriced {
                price: cents(2499),
                previous_price: cents(1999),
            }
            .into(),
        ]);
    assert_eq!(state.price, cents(2499));
}

#[test]
fn reprice_to_the_same_price_is_rejected() {
    given::<Product>([created(1999)])
        .when(ProductCommand::Reprice { price: cents(1999) })
        .then_expect_error(DomainError::ProductPriceUnchanged);
}

#[test]
fn rename_changes_the_name() {
    let state = given::<Product>([created(1999)])
        .when(ProductCommand::Rename {
            name: pname("Gadget"),
        })
        .then_expect_events(vec![
            ProductRenamed {
                name: pname("Gadget"),
            }
            .into(),
        ]);
    assert_eq!(state.name, Some(pname("Gadget")));
}

#[test]
fn rename_to_the_same_name_is_rejected() {
    given::<Product>([created(1999)])
        .when(ProductCommand::Rename {
            name: pname("Widget"),
        })
        .then_expect_error("product_name_unchanged");
}

#[test]
fn discontinue_takes_the_product_off_sale() {
    let state = given::<Product>([created(1999)])
        .when(ProductCommand::Discontinue)
        .then_expect_events(vec![discontinued()]);
    assert!(state.discontinued);
}

#[test]
fn nothing_is_accepted_after_discontinue() {
    for cmd in [
        ProductCommand::Reprice { price: cents(1) },
        ProductCommand::Rename {
            name: pname("Other"),
        },
        ProductCommand::Discontinue,
    ] {
        given::<Product>([created(1999), discontinued()])
            .when(cmd)
            .then_expect_error(DomainError::ProductDiscontinued);
    }
    given::<Product>([created(1999), discontinued()])
        .when(create())
        .then_expect_error(DomainError::ProductAlreadyExists);
}

#[test]
fn commands_on_a_missing_product_are_rejected() {
    for cmd in [
        ProductCommand::Reprice { price: cents(1) },
        ProductCommand::Rename {
            name: pname("Other"),
        },
        ProductCommand::Discontinue,
    ] {
        given::<Product>([])
            .when(cmd)
            .then_expect_error("product_not_found");
    }
}
