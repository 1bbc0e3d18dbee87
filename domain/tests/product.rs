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
    }
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
