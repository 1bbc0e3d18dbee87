//! Quantity of one order line.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// A number of units on one order line, 1..=10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// Smallest allowed quantity.
    pub const MIN: u32 = 1;
    /// Largest allowed quantity; keeps line totals far from overflow for sane prices.
    pub const MAX: u32 = 10_000;

    /// Validates a quantity.
    pub fn new(value: u32) -> Result<Self, ValidationError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(ValidationError::QuantityOutOfRange(i64::from(value)))
        }
    }

    /// Parses user input such as `"3"`.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let value: i64 = input
            .trim()
            .parse()
            .map_err(|_| ValidationError::QuantityNotANumber)?;
        u32::try_from(value)
            .map_err(|_| ValidationError::QuantityOutOfRange(value))
            .and_then(Self::new)
    }

    /// The number of units.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = ValidationError;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> Self {
        q.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
