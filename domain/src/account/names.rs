//! The account's names: the username one signs in with (also the account's identity) and the
//! label of an API token.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// A username: 1..=32 characters of `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter or a
/// digit; given in any case, stored lower-case. It names the account for good (the account id
/// is derived from it) and is what the audit trail records as the user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// Longest username, in characters.
    pub const MAX_LEN: usize = 32;

    /// Validates and lower-cases a username.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err(ValidationError::Empty { field: "Username" });
        }
        if s.len() > Self::MAX_LEN {
            return Err(ValidationError::TooLong {
                field: "Username",
                max: Self::MAX_LEN,
            });
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
        let starts_well = s.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !starts_well || !s.chars().all(allowed) {
            return Err(ValidationError::InvalidCharacters { field: "Username" });
        }
        Ok(Self(s))
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(v: Username) -> Self {
        v.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
