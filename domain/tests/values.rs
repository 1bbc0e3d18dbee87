//! Value types: parsing rules, normalization, and serde that cannot bypass them.

use domain::values::*;
use domain::{OrderId, ValidationError};
use serde_json::json;

#[test]
fn quantity_range() {
    assert_eq!(Quantity::new(1).unwrap().get(), 1);
    assert_eq!(Quantity::new(10_000).unwrap().get(), 10_000);
    assert_eq!(
        Quantity::new(0),
        Err(ValidationError::QuantityOutOfRange(0))
    );
    assert!(Quantity::new(10_001).is_err());
    assert_eq!(Quantity::parse(" 12 ").unwrap().get(), 12);
    assert_eq!(
        Quantity::parse("-3"),
        Err(ValidationError::QuantityOutOfRange(-3))
    );
    assert_eq!(
        Quantity::parse("x"),
        Err(ValidationError::QuantityNotANumber)
    );
    assert!(serde_json::from_value::<Quantity>(json!(0)).is_err());
    assert!(serde_json::from_value::<Quantity>(json!(-1)).is_err());
    assert_eq!(
        serde_json::to_value(Quantity::new(7).unwrap()).unwrap(),
        json!(7)
    );
}

#[test]
fn money_arithmetic_is_checked() {
    let a = Money::from_cents(150).unwrap();
    assert_eq!(a.checked_add(a).unwrap().cents(), 300);
    assert_eq!(a.checked_mul(3).unwrap().cents(), 450);
    assert_eq!(a.times(Quantity::new(2).unwrap()).unwrap().cents(), 300);
    assert_eq!(
        Money::MAX.checked_add(a),
        Err(ValidationError::MoneyOverflow)
    );
    assert_eq!(
        Money::MAX.checked_mul(2),
        Err(ValidationError::MoneyOverflow)
    );
    assert_eq!(
        Money::ZERO.checked_sub(a),
        Err(ValidationError::NegativeMoney)
    );
    assert_eq!(a.checked_sub(a), Ok(Money::ZERO));
    assert_eq!(Money::from_cents(-1), Err(ValidationError::NegativeMoney));
}

#[test]
fn money_parses_and_displays() {
    assert_eq!(Money::parse("12.34").unwrap().cents(), 1234);
    assert_eq!(Money::parse("12.3").unwrap().cents(), 1230);
    assert_eq!(Money::parse(" 12 ").unwrap().cents(), 1200);
    assert_eq!(Money::parse("-1"), Err(ValidationError::NegativeMoney));
    assert_eq!(
        Money::parse("1.234").unwrap_err().code(),
        "money_invalid_format"
    );
    assert_eq!(Money::from_cents(1234).unwrap().to_string(), "12.34");
    assert_eq!(Money::from_cents(5).unwrap().to_string(), "0.05");
    assert_eq!(Money::ZERO.to_string(), "0.00");
    for c in [0, 1, 99, 100, 12345, i64::MAX] {
        let m = Money::from_cents(c).unwrap();
        assert_eq!(m.to_string().parse::<Money>(), Ok(m));
    }
    assert!(serde_json::from_value::<Money>(json!(-5)).is_err());
    assert_eq!(
        serde_json::to_value(Money::from_cents(5).unwrap()).unwrap(),
        json!(5)
    );
}

#[test]
fn email_is_trimmed_lowercased_and_checked() {
    assert_eq!(
        Email::parse("  Ada@Example.COM ").unwrap().as_str(),
        "ada@example.com"
    );
    for bad in [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "a b@example.com",
        "ada@example..com",
        "ada@.com",
    ] {
        assert_eq!(
            Email::parse(bad),
            Err(ValidationError::InvalidEmail),
            "{bad}"
        );
    }
    let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
    assert_eq!(Email::parse(&long), Err(ValidationError::EmailTooLong));
    assert!(serde_json::from_value::<Email>(json!("nope")).is_err());
    assert_eq!(
        serde_json::from_value::<Email>(json!("X@Y.io"))
            .unwrap()
            .as_str(),
        "x@y.io"
    );
}

#[test]
fn sku_rules() {
    assert_eq!(Sku::parse(" ab-12 ").unwrap().as_str(), "AB-12");
    assert!(Sku::parse(&"A".repeat(32)).is_ok());
    for bad in ["", "A".repeat(33).as_str(), "A B", "A_B", "Ä"] {
        assert_eq!(Sku::parse(bad), Err(ValidationError::InvalidSku), "{bad}");
    }
    assert!(serde_json::from_value::<Sku>(json!("a b")).is_err());
}

#[test]
fn text_types_are_trimmed_bounded_and_clean() {
    assert_eq!(PersonName::parse("  Ada ").unwrap().as_str(), "Ada");
    assert_eq!(
        PersonName::parse("   "),
        Err(ValidationError::Empty { field: "Name" })
    );
    assert_eq!(
        PersonName::parse(&"x".repeat(101)),
        Err(ValidationError::TooLong {
            field: "Name",
            max: 100
        })
    );
    assert!(PersonName::parse("Ada\u{0}").is_err());
    assert!(ProductName::parse(&"é".repeat(200)).is_ok());
    assert!(ProductName::parse(&"é".repeat(201)).is_err());
    assert!(Reason::parse(&"r".repeat(500)).is_ok());
    assert_eq!(
        Reason::parse(&"r".repeat(501)).unwrap_err().code(),
        "value_too_long"
    );
    assert_eq!(Reason::parse("").unwrap_err().code(), "value_empty");
    assert!(Carrier::parse("DHL Express").is_ok());
    assert!(serde_json::from_value::<Reason>(json!("  ")).is_err());
    let name: CustomerName = PersonName::parse("Grace").unwrap();
    assert_eq!(name.to_string(), "Grace");
}

#[test]
fn tracking_number_rules() {
    assert_eq!(
        TrackingNumber::parse(" 1z-999 ").unwrap().as_str(),
        "1Z-999"
    );
    assert_eq!(TrackingNumber::parse("").unwrap_err().code(), "value_empty");
    assert_eq!(
        TrackingNumber::parse("1Z 999").unwrap_err().code(),
        "value_invalid_characters"
    );
    assert!(TrackingNumber::parse(&"9".repeat(65)).is_err());
}

#[test]
fn ids_display_parse_and_serialize_transparently() {
    let id = OrderId::new(uuid::Uuid::from_u128(42));
    let text = id.to_string();
    assert_eq!(text.parse::<OrderId>(), Ok(id));
    assert_eq!(serde_json::to_value(id).unwrap(), json!(text));
    assert_eq!("nope".parse::<OrderId>().unwrap_err().code(), "id_invalid");
}

#[test]
fn validation_messages_are_user_facing() {
    let msg = Quantity::new(0).unwrap_err().to_string();
    assert_eq!(msg, "Quantity must be between 1 and 10,000 (got 0).");
    assert_eq!(
        Reason::parse("").unwrap_err().to_string(),
        "Reason cannot be empty."
    );
}
