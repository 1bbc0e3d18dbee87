//! Typed identifiers. They wrap a `Uuid` that the caller generates (the domain has no
//! randomness, so it stays deterministic and wasm-friendly); the types keep an order id from
//! being passed where a customer id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ValidationError;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn new(id: Uuid) -> Self {
                Self(id)
            }

            /// The wrapped UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| ValidationError::InvalidId(s.to_owned()))
            }
        }
    };
}

id_type!(
    /// Identifies an order; its stream is `order-<id>`.
    OrderId
);
id_type!(
    /// Identifies a customer; its stream is `customer-<id>`.
    CustomerId
);
id_type!(
    /// Identifies a product; its stream is `product-<id>`.
    ProductId
);

/// A short, human-friendly form of an id: its last 8 hex digits. The first digits of a UUID v7
/// are its timestamp, shared by every id made in the same moment; the last ones are random.
pub fn short_id(id: Uuid) -> String {
    let hex = id.simple().to_string();
    hex[hex.len() - 8..].to_string()
}

#[cfg(test)]
mod short_id_tests {
    use super::*;

    #[test]
    fn short_id_keeps_the_random_tail() {
        let id = Uuid::parse_str("01a21864-1fdb-7754-b1f0-9123f98215ca").unwrap();
        assert_eq!(short_id(id), "f98215ca");
    }
}
