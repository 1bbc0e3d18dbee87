//! Units of stock: what is on hand, received or counted.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// A number of units of one product in stock, 0..=[`StockUnits::MAX`].
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct StockUnits(u32);

impl StockUnits {
    /// Most units one product can have on hand; keeps every sum of stock far from overflow.
    pub const MAX: u32 = 1_000_000_000;
    /// No stock.
    pub const ZERO: Self = Self(0);

    /// Validates a count.
    pub fn new(value: u32) -> Result<Self, ValidationError> {
        if value <= Self::MAX {
            Ok(Self(value))
        } else {
            Err(ValidationError::StockOutOfRange(i64::from(value)))
        }
    }

    /// Validates a count given as any integer (e.g. from JSON).
    pub fn from_i64(value: i64) -> Result<Self, ValidationError> {
        u32::try_from(value)
            .map_err(|_| ValidationError::StockOutOfRange(value))
            .and_then(Self::new)
    }

    /// Parses form input such as `"12"` (empty: 0).
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let input = input.trim();
        if input.is_empty() {
            return Ok(Self::ZERO);
        }
        let value: i64 = input
            .parse()
            .map_err(|_| ValidationError::StockNotANumber)?;
        Self::from_i64(value)
    }

    /// The number of units.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for StockUnits {
    type Error = ValidationError;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<StockUnits> for u32 {
    fn from(s: StockUnits) -> Self {
        s.0
    }
}

impl fmt::Display for StockUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
