//! Typed identifiers. They wrap a `Uuid` that the caller generates (the domain has no
//! randomness, so it stays deterministic and wasm-friendly); the types keep an order id from
//! being passed where a customer id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{Account, Username};
use crate::aggregate::Aggregate;
use crate::customer::Customer;
use crate::error::ValidationError;
use crate::order::Order;
use crate::product::Product;

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
id_type!(
    /// Identifies an account; its stream is `account-<id>`. Derived from the username.
    AccountId
);

/// UUID v5 namespace of account ids.
const ACCOUNT_NAMESPACE: Uuid = Uuid::from_u128(0x3d6e_91a4_0b7c_5f28_a1e3_6c49_d20f_8b57);

impl AccountId {
    /// The id of the account with this username (the same on every instance, so the event
    /// store's "stream must not exist" makes usernames unique).
    pub fn for_username(username: &Username) -> Self {
        Self(Uuid::new_v5(
            &ACCOUNT_NAMESPACE,
            username.as_str().as_bytes(),
        ))
    }
}

/// The aggregate type a stream belongs to: the prefix of its id (`order` in `order-<uuid>`), the
/// same as the aggregate's [`Aggregate::STREAM_TYPE`] (the `stream_type` stored with its events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamKind {
    /// [`Order`] streams.
    Order,
    /// [`Customer`] streams.
    Customer,
    /// [`Product`] streams.
    Product,
    /// [`Account`] streams.
    Account,
}

impl StreamKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::Order, Self::Customer, Self::Product, Self::Account];

    /// The prefix of this kind's stream ids, e.g. `"order"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Order => <Order as Aggregate>::STREAM_TYPE,
            Self::Customer => <Customer as Aggregate>::STREAM_TYPE,
            Self::Product => <Product as Aggregate>::STREAM_TYPE,
            Self::Account => <Account as Aggregate>::STREAM_TYPE,
        }
    }

    /// The kind whose stream ids start with `prefix` (a `stream_type`).
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == prefix)
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stream id of one of the aggregates, `<kind>-<uuid>`. Its [`Display`](fmt::Display) form is
/// what [`Aggregate::stream_id`] returns, and [`StreamId::parse`] is the one place that takes a
/// stream id apart (nothing else splits stream ids at `-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    kind: StreamKind,
    id: Uuid,
}

impl StreamId {
    /// The stream of instance `id` of `kind`.
    pub const fn new(kind: StreamKind, id: Uuid) -> Self {
        Self { kind, id }
    }

    /// The stream of order `id`.
    pub const fn order(id: OrderId) -> Self {
        Self::new(StreamKind::Order, id.as_uuid())
    }

    /// The stream of customer `id`.
    pub const fn customer(id: CustomerId) -> Self {
        Self::new(StreamKind::Customer, id.as_uuid())
    }

    /// The stream of product `id`.
    pub const fn product(id: ProductId) -> Self {
        Self::new(StreamKind::Product, id.as_uuid())
    }

    /// Which aggregate type the stream belongs to.
    pub const fn kind(&self) -> StreamKind {
        self.kind
    }

    /// The aggregate instance's id.
    pub const fn id(&self) -> Uuid {
        self.id
    }

    /// Reads a stream id; `None` unless it is exactly what [`Display`](fmt::Display) writes for
    /// some kind and id (so an upper-case, braced or unhyphenated UUID is not a stream id: stream
    /// ids are compared as strings everywhere else).
    pub fn parse(stream_id: &str) -> Option<Self> {
        let (prefix, rest) = stream_id.split_once('-')?;
        let kind = StreamKind::from_prefix(prefix)?;
        Some(Self::new(kind, canonical_uuid(rest)?))
    }

    /// Whether `stream_id` is this stream's id (compared without allocating).
    pub fn is(&self, stream_id: &str) -> bool {
        uuid_after(self.kind.as_str(), stream_id) == Some(self.id)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind.as_str(), self.id)
    }
}

impl FromStr for StreamId {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| ValidationError::InvalidId(s.to_owned()))
    }
}

/// The stream id of instance `id` of the aggregate type with stream prefix `prefix` (what
/// [`Aggregate::stream_id`] returns).
pub(crate) fn stream_id_of(prefix: &str, id: Uuid) -> String {
    format!("{prefix}-{id}")
}

/// The UUID of the stream id `stream_id` if it is `<prefix>-<uuid>` (canonical UUID form).
pub(crate) fn uuid_after(prefix: &str, stream_id: &str) -> Option<Uuid> {
    canonical_uuid(stream_id.strip_prefix(prefix)?.strip_prefix('-')?)
}

/// `s` as a UUID if it is written the way `Uuid`'s `Display` writes it (lower-case, hyphenated).
fn canonical_uuid(s: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(s).ok()?;
    let mut buffer = Uuid::encode_buffer();
    (id.hyphenated().encode_lower(&mut buffer) == s).then_some(id)
}

/// A short, human-friendly form of an id: its last 8 hex digits. The first digits of a UUID v7
/// are its timestamp, shared by every id made in the same moment; the last ones are random.
pub fn short_id(id: Uuid) -> String {
    let hex = id.simple().to_string();
    hex[hex.len() - 8..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01a21864-1fdb-7754-b1f0-9123f98215ca";

    #[test]
    fn stream_ids_parse_exactly_what_display_writes() {
        let id = Uuid::parse_str(ID).unwrap();
        for kind in StreamKind::ALL {
            let stream = StreamId::new(kind, id);
            let text = stream.to_string();
            assert_eq!(text, format!("{}-{ID}", kind.as_str()));
            assert_eq!(StreamId::parse(&text), Some(stream));
            assert!(stream.is(&text));
            assert_eq!(StreamKind::from_prefix(kind.as_str()), Some(kind));
            assert!(
                !kind.as_str().contains('-'),
                "a prefix must not contain the separator"
            );
        }
        for bad in [
            "",
            "order",
            "order-",
            "order-x",
            "invoice-01a21864-1fdb-7754-b1f0-9123f98215ca",
            "order-01A21864-1FDB-7754-B1F0-9123F98215CA",
            "order-01a218641fdb7754b1f09123f98215ca",
            "order-{01a21864-1fdb-7754-b1f0-9123f98215ca}",
            "order-01a21864-1fdb-7754-b1f0-9123f98215ca-",
            "order_01a21864-1fdb-7754-b1f0-9123f98215ca",
        ] {
            assert_eq!(StreamId::parse(bad), None, "{bad:?}");
            assert!(bad.parse::<StreamId>().is_err(), "{bad:?}");
        }
        let order = StreamId::order(OrderId::new(Uuid::parse_str(ID).unwrap()));
        assert!(!order.is(&format!("customer-{ID}")));
        assert!(!order.is(&format!("order-{}", ID.to_uppercase())));
    }

    #[test]
    fn short_id_keeps_the_random_tail() {
        let id = Uuid::parse_str("01a21864-1fdb-7754-b1f0-9123f98215ca").unwrap();
        assert_eq!(short_id(id), "f98215ca");
    }
}
