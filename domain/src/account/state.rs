//! What an account's events fold into.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{Role, Username};
use crate::ids::{AccountId, CustomerId};
use crate::values::{PersonName, TokenName};

/// The current state of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// Whether the account has been opened.
    pub exists: bool,
    /// Set once opened.
    pub account_id: Option<AccountId>,
    /// Set once opened.
    pub username: Option<Username>,
    /// Set once opened.
    pub display_name: Option<PersonName>,
    /// The role (customer until opened).
    pub role: Option<Role>,
    /// The customer a customer account acts for.
    pub customer_id: Option<CustomerId>,
    /// A disabled account cannot sign in and its tokens are refused.
    pub disabled: bool,
    /// Tokens issued and not revoked, by id.
    pub tokens: BTreeMap<Uuid, TokenName>,
}

impl AccountState {
    /// Whether the account may act now: opened and not disabled.
    pub fn is_active(&self) -> bool {
        self.exists && !self.disabled
    }
}
