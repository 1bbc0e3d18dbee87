//! Prices are bounded where they enter (`Money::price_from_cents`), and the order total those
//! prices allow is far from overflowing.

use domain::ValidationError;
use domain::order::MAX_LINES;
use domain::values::{Money, Quantity};

#[test]
fn prices_up_to_the_maximum_are_accepted() {
    for cents in [0, 1, 1999, Money::MAX_PRICE.cents()] {
        assert_eq!(
            Money::price_from_cents(cents).map(Money::cents),
            Ok(cents),
            "{cents}"
        );
    }
    assert_eq!(Money::MAX_PRICE.to_string(), "1000000.00");
}

#[test]
fn prices_above_the_maximum_are_refused_with_a_code() {
    for cents in [Money::MAX_PRICE.cents() + 1, i64::MAX / 2, i64::MAX] {
        let refused = Money::price_from_cents(cents);
        assert_eq!(refused, Err(ValidationError::PriceTooHigh), "{cents}");
        assert_eq!(refused.err().map(|e| e.code()), Some("price_too_high"));
    }
    assert_eq!(
        Money::price_from_cents(-1),
        Err(ValidationError::NegativeMoney)
    );
    assert_eq!(
        ValidationError::PriceTooHigh.to_string(),
        "A price can be at most 1,000,000.00 per unit."
    );
}

#[test]
fn the_largest_order_total_is_far_from_overflow() {
    let max_lines = i128::try_from(MAX_LINES).unwrap_or(i128::MAX);
    let largest = i128::from(Money::MAX_PRICE.cents()) * i128::from(Quantity::MAX) * max_lines;
    assert_eq!(i128::from(Money::MAX_ORDER_TOTAL.cents()), largest);
    // Tens of thousands of the largest orders still sum within i64.
    assert!(largest * 90_000 < i128::from(i64::MAX));
}
