//! Email addresses.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// A plausible email address, trimmed and lowercased, at most 254 characters. The check is
/// deliberately simple (one `@`, a non-empty local part, a dotted domain, no whitespace):
/// only sending mail proves an address works.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Longest address allowed (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Validates and normalizes an address.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim().to_lowercase();
        if s.chars().count() > Self::MAX_LEN {
            return Err(ValidationError::EmailTooLong);
        }
        let (local, domain) = s.split_once('@').ok_or(ValidationError::InvalidEmail)?;
        let valid = !local.is_empty()
            && local.chars().count() <= 64
            && !domain.contains('@')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty());
        if valid {
            Ok(Self(s))
        } else {
            Err(ValidationError::InvalidEmail)
        }
    }

    /// The address of an erased customer.
    pub fn erased() -> Self {
        Self(super::ERASED.to_owned())
    }

    /// Whether this is [`Email::erased`].
    pub fn is_erased(&self) -> bool {
        self.0 == super::ERASED
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = ValidationError;

    /// Also [`super::ERASED`]: stored events read back with the address erased. Input goes
    /// through [`Email::parse`], which refuses it.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value == super::ERASED {
            return Ok(Self(value));
        }
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
