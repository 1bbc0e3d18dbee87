//! The lists' opaque keyset-paging cursors: the sort key of the last row of a page,
//! hex-encoded so clients treat it as a token rather than something to build. The order list
//! pages by (created_at, order_id) ([`OrderCursor`]); the customer and product lists by their
//! text sort key and id ([`KeyCursor`]: name for customers, SKU for products).

use domain::views::OrderSummary;
use uuid::Uuid;

use super::QueryError;

/// Longest token accepted (a sort key of up to a few hundred bytes, hex-encoded).
const MAX_TOKEN: usize = 2048;

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(token: &str) -> Result<String, QueryError> {
    let bytes = token.as_bytes();
    if !bytes.len().is_multiple_of(2) || bytes.len() > MAX_TOKEN {
        return Err(QueryError::InvalidCursor);
    }
    let raw: Vec<u8> = bytes
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or(QueryError::InvalidCursor)
        })
        .collect::<Result<_, _>>()?;
    String::from_utf8(raw).map_err(|_| QueryError::InvalidCursor)
}

/// Where the next (older) page starts: strictly after this row in `created_at desc, order_id
/// desc` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at_us: i64,
    pub order_id: Uuid,
}

impl OrderCursor {
    /// The cursor after `summary`.
    pub fn of(summary: &OrderSummary) -> Self {
        Self {
            created_at_us: summary.created_at.timestamp_micros(),
            order_id: summary.order_id,
        }
    }

    /// The opaque token.
    pub fn encode(&self) -> String {
        hex(&format!(
            "o1:{}:{}",
            self.created_at_us,
            self.order_id.simple()
        ))
    }

    /// Reads a token made by [`encode`](Self::encode).
    pub fn decode(token: &str) -> Result<Self, QueryError> {
        let text = unhex(token)?;
        let mut parts = text.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("o1"), Some(at), Some(id), None) => Ok(Self {
                created_at_us: at.parse().map_err(|_| QueryError::InvalidCursor)?,
                order_id: Uuid::parse_str(id).map_err(|_| QueryError::InvalidCursor)?,
            }),
            _ => Err(QueryError::InvalidCursor),
        }
    }
}

/// Where the next page of a list sorted by `(key, id)` ascending starts: strictly after this
/// row. `list` names the list ("c" customers, "p" products), so a token of one list is refused
/// by another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCursor {
    pub key: String,
    pub id: Uuid,
}

impl KeyCursor {
    /// The opaque token of list `list`.
    pub fn encode(&self, list: &str) -> String {
        hex(&format!("{list}1:{}:{}", self.id.simple(), self.key))
    }

    /// Reads a token made by [`encode`](Self::encode) for the same `list`.
    pub fn decode(token: &str, list: &str) -> Result<Self, QueryError> {
        let text = unhex(token)?;
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(tag), Some(id), Some(key)) if tag == format!("{list}1") => Ok(Self {
                key: key.to_owned(),
                id: Uuid::parse_str(id).map_err(|_| QueryError::InvalidCursor)?,
            }),
            _ => Err(QueryError::InvalidCursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_cursor_round_trips_and_rejects_garbage() {
        let c = OrderCursor {
            created_at_us: 1_700_000_000_123_456,
            order_id: Uuid::now_v7(),
        };
        assert_eq!(OrderCursor::decode(&c.encode()).ok(), Some(c));
        for bad in ["", "zz", "abc", "6f313a"] {
            assert!(OrderCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_cursor_round_trips_keys_with_colons_and_is_bound_to_its_list() {
        let c = KeyCursor {
            key: "Zoë: the second".into(),
            id: Uuid::now_v7(),
        };
        let token = c.encode("c");
        assert_eq!(KeyCursor::decode(&token, "c").ok(), Some(c.clone()));
        assert!(
            KeyCursor::decode(&token, "p").is_err(),
            "a customer token is no product token"
        );
        assert!(OrderCursor::decode(&token).is_err());
        for bad in ["", "zz", "abc", "63313a"] {
            assert!(KeyCursor::decode(bad, "c").is_err(), "{bad}");
        }
    }
}
