//! Amounts of money in integer cents (one implicit currency).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::values::Quantity;

/// A non-negative amount in integer cents. Integer cents keep arithmetic exact; every operation
/// is checked so that an overflow is a typed error, never a wrap or a panic.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Money(i64);

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);
    /// The largest representable amount.
    pub const MAX: Money = Money(i64::MAX);
    /// The highest price per unit accepted where prices enter (creating or repricing a
    /// product): 1,000,000.00.
    pub const MAX_PRICE: Money = Money(100_000_000);
    /// The maximum order total, enforced by the order's `decide` (adding an item or changing a
    /// quantity that would exceed it is refused with `DomainError::OrderTotalTooHigh`, a 4xx):
    /// what [`crate::order::MAX_LINES`] lines of [`Quantity::MAX`] units at
    /// [`Money::MAX_PRICE`] reach, 1,000,000,000,000.00. Far below [`Money::MAX`], so sums over
    /// many orders stay exact (the dashboard's are overflow-safe regardless, for older data).
    pub const MAX_ORDER_TOTAL: Money =
        Money(Self::MAX_PRICE.0 * Quantity::MAX as i64 * crate::order::MAX_LINES as i64);

    /// Validates a price per unit given in cents: not negative, at most [`Money::MAX_PRICE`].
    pub fn price_from_cents(cents: i64) -> Result<Self, ValidationError> {
        let price = Self::from_cents(cents)?;
        if price > Self::MAX_PRICE {
            Err(ValidationError::PriceTooHigh)
        } else {
            Ok(price)
        }
    }

    /// Validates an amount given in cents.
    pub fn from_cents(cents: i64) -> Result<Self, ValidationError> {
        if cents < 0 {
            Err(ValidationError::NegativeMoney)
        } else {
            Ok(Self(cents))
        }
    }

    /// Parses a decimal amount such as `"19.99"`, `"19.9"` or `"19"` exactly (no floating
    /// point). Surrounding whitespace is ignored; signs other than a leading `-` (rejected as
    /// negative), more than two decimals, and anything else are rejected.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim();
        let invalid = || ValidationError::InvalidMoneyFormat(input.to_owned());
        if let Some(rest) = s.strip_prefix('-') {
            // Report "negative" only for otherwise well-formed amounts, else the format error.
            return match Self::parse(rest) {
                Ok(_) => Err(ValidationError::NegativeMoney),
                Err(_) => Err(invalid()),
            };
        }
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) {
            return Err(invalid());
        }
        let frac_cents: i64 = match frac {
            None => 0,
            Some(f) if all_digits(f) && f.len() <= 2 => {
                let digits: i64 = f.parse().map_err(|_| invalid())?;
                // "19.9" means 90 cents, "19.09" means 9.
                if f.len() == 1 { digits * 10 } else { digits }
            }
            Some(_) => return Err(invalid()),
        };
        let units: i64 = whole.parse().map_err(|_| ValidationError::MoneyOverflow)?;
        units
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac_cents))
            .map(Self)
            .ok_or(ValidationError::MoneyOverflow)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// `self + other`, or an error instead of overflowing.
    pub fn checked_add(self, other: Money) -> Result<Money, ValidationError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or(ValidationError::MoneyOverflow)
    }

    /// `self - other`, or an error if the result would be negative.
    pub fn checked_sub(self, other: Money) -> Result<Money, ValidationError> {
        match self.0.checked_sub(other.0) {
            Some(c) if c >= 0 => Ok(Money(c)),
            _ => Err(ValidationError::NegativeMoney),
        }
    }

    /// `self * factor`, or an error instead of overflowing.
    pub fn checked_mul(self, factor: u32) -> Result<Money, ValidationError> {
        self.0
            .checked_mul(i64::from(factor))
            .map(Money)
            .ok_or(ValidationError::MoneyOverflow)
    }

    /// The total of `quantity` units at this unit price, or an error instead of overflowing.
    pub fn times(self, quantity: Quantity) -> Result<Money, ValidationError> {
        self.checked_mul(quantity.get())
    }

    /// `self + other`, clamped to [`Money::MAX`]. Only for folding events that `decide` has
    /// already checked, where overflow cannot happen but `evolve` has no way to fail.
    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }
}

impl TryFrom<i64> for Money {
    type Error = ValidationError;

    fn try_from(cents: i64) -> Result<Self, Self::Error> {
        Self::from_cents(cents)
    }
}

impl From<Money> for i64 {
    fn from(m: Money) -> Self {
        m.0
    }
}

impl FromStr for Money {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Formats as a plain decimal with two places, e.g. `12.34` (the UI adds a currency symbol);
/// `Money::parse` reads this form back.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}
