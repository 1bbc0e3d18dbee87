//! The order list's opaque paging cursor: the (created_at, order_id) of the last row of a page,
//! hex-encoded so clients treat it as a token rather than something to build.

use domain::views::OrderSummary;
use uuid::Uuid;

use super::QueryError;

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
        format!("o1:{}:{}", self.created_at_us, self.order_id.simple())
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Reads a token made by [`encode`](Self::encode).
    pub fn decode(token: &str) -> Result<Self, QueryError> {
        let bytes = token.as_bytes();
        if !bytes.len().is_multiple_of(2) || bytes.len() > 256 {
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
        let text = String::from_utf8(raw).map_err(|_| QueryError::InvalidCursor)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = OrderCursor {
            created_at_us: 1_700_000_000_123_456,
            order_id: Uuid::now_v7(),
        };
        assert_eq!(OrderCursor::decode(&c.encode()).ok(), Some(c));
        for bad in ["", "zz", "abc", "6f313a"] {
            assert!(OrderCursor::decode(bad).is_err(), "{bad}");
        }
    }
}
