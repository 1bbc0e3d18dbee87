//! The one rule for free text that reaches storage without a value type: PostgreSQL cannot
//! store a NUL character in text (SQLite can), so it is refused here with a 400, the same on
//! both backends, before any query runs.
//!
//! Every text input of `domain::requests` is checked either here or by its value type:
//! names, reasons and carriers (`domain::values::text`: no control characters), emails (no
//! control characters or whitespace), SKUs and tracking numbers (restricted ASCII), order
//! statuses (parsed), cursors (hex); what remains, the stream browser's type, prefix, cursor and
//! stream id, and an operator's skip reason, goes through [`storable`].

use crate::application::{AppError, AppResult};

/// `value`, unless it holds a character PostgreSQL cannot store (NUL); `what` names the input
/// for the message.
pub(crate) fn storable<'a>(value: &'a str, what: &str) -> AppResult<&'a str> {
    if value.contains('\0') {
        Err(AppError::invalid(
            "invalid_text",
            format!("The {what} contains a character that is not allowed (NUL)."),
        ))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::storable;

    #[test]
    fn nul_is_refused() {
        assert_eq!(storable("order-1", "stream id").ok(), Some("order-1"));
        assert_eq!(
            storable("order-\0", "stream id").err().map(|e| e.code),
            Some("invalid_text")
        );
        assert_eq!(
            storable("\0", "prefix").err().map(|e| e.status()),
            Some(400)
        );
    }
}
