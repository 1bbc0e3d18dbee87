//! Every event survives to_data/from_data; type names, versions and error codes are stable.

mod common;

use common::*;
use domain::customer::*;
use domain::order::*;
use domain::product::*;
use domain::values::Money;
use domain::{DomainError, DomainEvent, ValidationError};
use serde_json::json;

fn order_events() -> Vec<OrderEvent> {
    vec![
        placed(),
        item_added(1, 1999, 2),
        ItemRemoved {
            product_id: product(1),
        }
        .into(),
        ItemQuantityChanged {
            product_id: product(1),
            quantity: qty(3),
        }
        .into(),
        confirmed(3998, 1, 2),
        shipped(),
        OrderDelivered {}.into(),
        OrderCancelled {
            reason: reason("Out of stock"),
            previous_status: OrderStatus::Confirmed,
        }
        .into(),
    ]
}

fn customer_events() -> Vec<CustomerEvent> {
    vec![
        registered(),
        CustomerRenamed { name: name("Ada") }.into(),
        CustomerEmailChanged {
            email: email("a@b.io"),
        }
        .into(),
        domain::customer::CustomerErased {
            reason: domain::values::Reason::parse("GDPR request").expect("reason"),
        }
        .into(),
    ]
}

fn product_events() -> Vec<ProductEvent> {
    vec![
        created(100),
        ProductRepriced {
            price: cents(200),
            previous_price: cents(100),
        }
        .into(),
        ProductRenamed {
            name: pname("Gadget"),
        }
        .into(),
        ProductDiscontinued {}.into(),
        StockReceived {
            quantity: domain::values::StockUnits::new(10).expect("units"),
        }
        .into(),
        StockCorrected {
            on_hand: domain::values::StockUnits::new(8).expect("units"),
            previous: domain::values::StockUnits::new(10).expect("units"),
            reason: domain::values::Reason::parse("stocktake").expect("reason"),
        }
        .into(),
        StockReserved {
            order_id: domain::OrderId::new(uuid::Uuid::from_u128(7)),
            quantity: domain::values::Quantity::new(2).expect("qty"),
        }
        .into(),
        StockReleased {
            order_id: domain::OrderId::new(uuid::Uuid::from_u128(7)),
            quantity: domain::values::Quantity::new(2).expect("qty"),
        }
        .into(),
        StockShipped {
            order_id: domain::OrderId::new(uuid::Uuid::from_u128(7)),
            quantity: domain::values::Quantity::new(2).expect("qty"),
        }
        .into(),
    ]
}

fn assert_round_trips<E: DomainEvent>(events: &[E], types: &[(&str, i32)]) {
    assert_eq!(events.len(), types.len(), "one sample per event type");
    for (event, (name, version)) in events.iter().zip(types) {
        assert_eq!(event.event_type(), *name);
        assert_eq!(event.schema_version(), *version);
        let data = event.to_data();
        assert!(data.is_object(), "payload is an object: {data}");
        assert!(data.get("type").is_none(), "payload carries no type tag");
        // Through text too, as the store does.
        let text = serde_json::to_string(&data).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(E::from_data(name, &back).as_ref(), Ok(event));
    }
}

#[test]
fn every_event_round_trips() {
    assert_round_trips(&order_events(), OrderEvent::TYPES);
    assert_round_trips(&customer_events(), CustomerEvent::TYPES);
    assert_round_trips(&product_events(), ProductEvent::TYPES);
}

#[test]
fn event_shapes_are_as_documented() {
    assert_eq!(
        item_added(1, 1999, 2).to_data(),
        json!({
            "product_id": "00000000-0000-0000-0000-000000001001",
            "sku": "SKU-1",
            "product_name": "Product 1",
            "unit_price_cents": 1999,
            "quantity": 2
        })
    );
    assert_eq!(
        confirmed(3998, 1, 2).to_data(),
        json!({"total_cents": 3998, "line_count": 1, "item_count": 2})
    );
    assert_eq!(ItemAdded::SCHEMA_VERSION, 2);
    assert_eq!(OrderPlaced::EVENT_TYPE, "OrderPlaced");
}

#[test]
fn unknown_types_and_invalid_payloads_are_typed_errors() {
    assert_eq!(
        OrderEvent::from_data("Nope", &json!({})),
        Err(DomainError::UnknownEventType {
            event_type: "Nope".into()
        })
    );
    // A payload whose values break a value type's rules cannot be read.
    let mut data = item_added(1, 1, 1).to_data();
    data["quantity"] = json!(0);
    let err = OrderEvent::from_data("ItemAdded", &data).unwrap_err();
    assert_eq!(err.code(), "invalid_event_data");
    assert!(!err.is_rejection());
    assert_eq!(
        CustomerEvent::from_data("OrderPlaced", &placed().to_data())
            .unwrap_err()
            .code(),
        "unknown_event_type"
    );
}

#[test]
fn error_codes_are_unique_snake_case_and_messages_are_sentences() {
    let errors = vec![
        DomainError::Validation(ValidationError::QuantityOutOfRange(0)),
        DomainError::OrderAlreadyExists,
        DomainError::OrderNotFound,
        DomainError::OrderCancelled,
        DomainError::OrderDelivered,
        DomainError::OrderNotDraft {
            status: OrderStatus::Shipped,
        },
        DomainError::OrderNotConfirmed {
            status: OrderStatus::Draft,
        },
        DomainError::OrderNotShipped {
            status: OrderStatus::Draft,
        },
        DomainError::OrderHasNoItems,
        DomainError::TooManyOrderLines { max: 100 },
        DomainError::ProductAlreadyInOrder {
            product_id: product(1),
        },
        DomainError::ProductNotInOrder {
            product_id: product(1),
        },
        DomainError::QuantityUnchanged { quantity: 1 },
        DomainError::OrderTotalTooHigh {
            max: Money::MAX_ORDER_TOTAL,
        },
        DomainError::CustomerAlreadyRegistered,
        DomainError::CustomerNotFound,
        DomainError::CustomerNameUnchanged,
        DomainError::CustomerEmailUnchanged,
        DomainError::ProductAlreadyExists,
        DomainError::ProductNotFound,
        DomainError::ProductDiscontinued,
        DomainError::ProductPriceUnchanged,
        DomainError::ProductNameUnchanged,
        DomainError::UnknownEventType {
            event_type: "X".into(),
        },
        DomainError::InvalidEventData {
            event_type: "X".into(),
            reason: "bad".into(),
        },
    ];
    let mut codes: Vec<&str> = errors.iter().map(DomainError::code).collect();
    for code in &codes {
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
    }
    let n = codes.len();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), n, "codes are unique");
    for e in &errors {
        let msg = e.to_string();
        assert!(msg.ends_with('.'), "{msg}");
        assert!(msg.starts_with(|c: char| c.is_uppercase()), "{msg}");
    }
    assert_eq!(
        DomainError::OrderNotDraft {
            status: OrderStatus::Shipped
        }
        .to_string(),
        "This order is shipped and can no longer be edited; only draft orders can."
    );
}
