//! The request identity an idempotency key is compared with is a stable contract: these texts
//! are pinned, so a rename of a Rust field or type (which changes `Debug` output) cannot make
//! in-flight retries fail with "key reused" after a deploy. Changing one of them is a decision
//! that must be made here, on purpose.

use domain::customer::CustomerCommand;
use domain::order::{OrderCommand, PricedLine};
use domain::product::ProductCommand;
use domain::values::{
    Carrier, CustomerName, Email, Money, ProductName, Quantity, Reason, Sku, TrackingNumber,
};
use domain::{CustomerId, OrderId, ProductId};
use orders::command::RequestIdentity as _;
use orders::command::identity;
use uuid::Uuid;

const ORDER: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
const CUSTOMER: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);
const PRODUCT: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0003);

fn order() -> OrderId {
    OrderId::new(ORDER)
}
fn customer() -> CustomerId {
    CustomerId::new(CUSTOMER)
}
fn product() -> ProductId {
    ProductId::new(PRODUCT)
}
fn qty(n: u32) -> Quantity {
    Quantity::new(n).unwrap()
}
fn line() -> PricedLine {
    PricedLine {
        product_id: product(),
        sku: Sku::parse("SKU-1").unwrap(),
        product_name: ProductName::parse("Mug").unwrap(),
        unit_price: Money::from_cents(1250).unwrap(),
        quantity: qty(2),
    }
}

const P: &str = "01900000-0000-7000-8000-000000000003";

#[test]
fn request_identities_of_the_use_cases_are_pinned() {
    assert_eq!(
        identity::place_order(customer(), &[(product(), qty(2))]),
        format!(
            r#"{{"command":"place_order","customer_id":"01900000-0000-7000-8000-000000000002","lines":[{{"product_id":"{P}","quantity":2}}]}}"#
        )
    );
    assert_eq!(
        identity::place_order(customer(), &[]),
        r#"{"command":"place_order","customer_id":"01900000-0000-7000-8000-000000000002","lines":[]}"#
    );
    assert_eq!(
        identity::add_item(product(), qty(3)),
        format!(r#"{{"command":"add_item","product_id":"{P}","quantity":3}}"#)
    );
}

#[test]
fn request_identities_of_every_order_command_are_pinned() {
    let name = CustomerName::parse("Ada Lovelace").unwrap();
    let cases: Vec<(OrderCommand, String)> = vec![
        (
            OrderCommand::Place {
                order_id: order(),
                customer_id: customer(),
                customer_name: name.clone(),
            },
            r#"{"command":"place","customer_id":"01900000-0000-7000-8000-000000000002","customer_name":"Ada Lovelace","order_id":"01900000-0000-7000-8000-000000000001"}"#.to_owned(),
        ),
        (
            OrderCommand::PlaceWithLines {
                order_id: order(),
                customer_id: customer(),
                customer_name: name,
                lines: vec![line()],
            },
            format!(
                r#"{{"command":"place_with_lines","customer_id":"01900000-0000-7000-8000-000000000002","customer_name":"Ada Lovelace","lines":[{{"product_id":"{P}","product_name":"Mug","quantity":2,"sku":"SKU-1","unit_price_cents":1250}}],"order_id":"01900000-0000-7000-8000-000000000001"}}"#
            ),
        ),
        (
            line().add_item(),
            format!(
                r#"{{"command":"add_item_priced","product_id":"{P}","product_name":"Mug","quantity":2,"sku":"SKU-1","unit_price_cents":1250}}"#
            ),
        ),
        (
            OrderCommand::RemoveItem { product_id: product() },
            format!(r#"{{"command":"remove_item","product_id":"{P}"}}"#),
        ),
        (
            OrderCommand::ChangeQuantity {
                product_id: product(),
                quantity: qty(5),
            },
            format!(r#"{{"command":"change_quantity","product_id":"{P}","quantity":5}}"#),
        ),
        (OrderCommand::Confirm, r#"{"command":"confirm"}"#.to_owned()),
        (
            OrderCommand::Ship {
                carrier: Carrier::parse("DHL").unwrap(),
                tracking_number: TrackingNumber::parse("TRK123456").unwrap(),
            },
            r#"{"carrier":"DHL","command":"ship","tracking_number":"TRK123456"}"#.to_owned(),
        ),
        (OrderCommand::MarkDelivered, r#"{"command":"deliver"}"#.to_owned()),
        (
            OrderCommand::Cancel {
                reason: Reason::parse("Changed my mind").unwrap(),
            },
            r#"{"command":"cancel","reason":"Changed my mind"}"#.to_owned(),
        ),
    ];
    for (command, expected) in cases {
        assert_eq!(command.identity(), expected, "{command:?}");
    }
}

#[test]
fn request_identities_of_every_customer_and_product_command_are_pinned() {
    let customer_cases = vec![
        (
            CustomerCommand::Register {
                customer_id: customer(),
                name: CustomerName::parse("Ada Lovelace").unwrap(),
                email: Email::parse("ada@example.com").unwrap(),
            },
            r#"{"command":"register_customer","customer_id":"01900000-0000-7000-8000-000000000002","email":"ada@example.com","name":"Ada Lovelace"}"#,
        ),
        (
            CustomerCommand::Rename {
                name: CustomerName::parse("Ada King").unwrap(),
            },
            r#"{"command":"rename_customer","name":"Ada King"}"#,
        ),
        (
            CustomerCommand::ChangeEmail {
                email: Email::parse("ada@king.example").unwrap(),
            },
            r#"{"command":"change_email","email":"ada@king.example"}"#,
        ),
    ];
    for (command, expected) in customer_cases {
        assert_eq!(command.identity(), expected, "{command:?}");
    }
    let product_cases = vec![
        (
            ProductCommand::Create {
                product_id: product(),
                sku: Sku::parse("SKU-1").unwrap(),
                name: ProductName::parse("Mug").unwrap(),
                price: Money::from_cents(1250).unwrap(),
                initial_stock: domain::values::StockUnits::ZERO,
            },
            format!(
                r#"{{"command":"create_product","name":"Mug","price_cents":1250,"product_id":"{P}","sku":"SKU-1"}}"#
            ),
        ),
        (
            ProductCommand::Create {
                product_id: product(),
                sku: Sku::parse("SKU-1").unwrap(),
                name: ProductName::parse("Mug").unwrap(),
                price: Money::from_cents(1250).unwrap(),
                initial_stock: domain::values::StockUnits::new(12).unwrap(),
            },
            format!(
                r#"{{"command":"create_product","initial_stock":12,"name":"Mug","price_cents":1250,"product_id":"{P}","sku":"SKU-1"}}"#
            ),
        ),
        (
            ProductCommand::Reprice {
                price: Money::from_cents(999).unwrap(),
            },
            r#"{"command":"reprice","price_cents":999}"#.to_owned(),
        ),
        (
            ProductCommand::Rename {
                name: ProductName::parse("Big mug").unwrap(),
            },
            r#"{"command":"rename_product","name":"Big mug"}"#.to_owned(),
        ),
        (
            ProductCommand::Discontinue,
            r#"{"command":"discontinue"}"#.to_owned(),
        ),
    ];
    for (command, expected) in product_cases {
        assert_eq!(command.identity(), expected, "{command:?}");
    }
}
