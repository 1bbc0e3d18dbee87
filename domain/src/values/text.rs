//! Free-text values: trimmed, non-empty, bounded, without control characters.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// Shared rule of every free-text type; only the user-facing field name and limit differ.
fn parse_text(input: &str, field: &'static str, max: usize) -> Result<String, ValidationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(ValidationError::Empty { field });
    }
    if s.chars().count() > max {
        return Err(ValidationError::TooLong { field, max });
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::InvalidCharacters { field });
    }
    Ok(s.to_owned())
}

macro_rules! text_type {
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Longest value allowed, in characters.
            pub const MAX_LEN: usize = $max;

            /// Validates a value; surrounding whitespace is removed.
            pub fn parse(input: &str) -> Result<Self, ValidationError> {
                parse_text(input, $field, $max).map(Self)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// A person's name, 1..=100 characters.
    PersonName,
    "Name",
    100
);
text_type!(
    /// A product's display name, 1..=200 characters.
    ProductName,
    "Product name",
    200
);
text_type!(
    /// Why something was done (e.g. an order cancelled), 1..=500 characters.
    Reason,
    "Reason",
    500
);
text_type!(
    /// The shipping company's name, 1..=100 characters.
    Carrier,
    "Carrier",
    100
);

text_type!(
    /// The label of an API token ("CI deploys"), 1..=60 characters.
    TokenName,
    "Token name",
    60
);

/// A customer's name (same rules as any person's name).
pub type CustomerName = PersonName;
