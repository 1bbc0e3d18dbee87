//! What can happen to an account. No event holds a password, a password hash, a session id or a
//! token secret: those live beside the log (see `orders::identity`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{Role, Username};
use crate::ids::{AccountId, CustomerId};
use crate::values::{PersonName, Reason, TokenName};

/// An account was opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOpened {
    /// The account.
    pub account_id: AccountId,
    /// Its username.
    pub username: Username,
    /// The name shown for it.
    pub display_name: PersonName,
    /// Its role.
    pub role: Role,
    /// The customer it acts for (customer accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
}

/// The account's role changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRoleChanged {
    /// The role before.
    pub previous: Role,
    /// The role now.
    pub role: Role,
}

/// The account was disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDisabled {
    /// Why.
    pub reason: Reason,
}

/// A disabled account was enabled again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEnabled {}

/// A personal API token was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenIssued {
    /// The token's public id.
    pub token_id: Uuid,
    /// Its label.
    pub name: TokenName,
}

/// A personal API token was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRevoked {
    /// The token's public id.
    pub token_id: Uuid,
}

event_enum! {
    /// Every event of the Account aggregate.
    AccountEvent {
        /// See [`AccountOpened`].
        Opened(AccountOpened) = ("AccountOpened", 1),
        /// See [`AccountRoleChanged`].
        RoleChanged(AccountRoleChanged) = ("AccountRoleChanged", 1),
        /// See [`AccountDisabled`].
        Disabled(AccountDisabled) = ("AccountDisabled", 1),
        /// See [`AccountEnabled`].
        Enabled(AccountEnabled) = ("AccountEnabled", 1),
        /// See [`ApiTokenIssued`].
        TokenIssued(ApiTokenIssued) = ("ApiTokenIssued", 1),
        /// See [`ApiTokenRevoked`].
        TokenRevoked(ApiTokenRevoked) = ("ApiTokenRevoked", 1),
    }
}
