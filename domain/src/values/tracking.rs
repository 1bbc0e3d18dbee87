//! Parcel tracking numbers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// A carrier's tracking number: 1..=64 ASCII letters, digits and dashes, trimmed and
/// uppercased (carriers print them in either case, but they compare case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingNumber(String);

impl TrackingNumber {
    /// Longest tracking number allowed.
    pub const MAX_LEN: usize = 64;
    const FIELD: &'static str = "Tracking number";

    /// Validates and normalizes a tracking number.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim().to_ascii_uppercase();
        if s.is_empty() {
            return Err(ValidationError::Empty { field: Self::FIELD });
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(ValidationError::TooLong {
                field: Self::FIELD,
                max: Self::MAX_LEN,
            });
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ValidationError::InvalidCharacters { field: Self::FIELD });
        }
        Ok(Self(s))
    }

    /// The tracking number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TrackingNumber {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TrackingNumber> for String {
    fn from(t: TrackingNumber) -> Self {
        t.0
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
