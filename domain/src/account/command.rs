//! What callers can ask of an account.

use uuid::Uuid;

use crate::account::{Role, Username};
use crate::ids::{AccountId, CustomerId};
use crate::values::{PersonName, Reason, TokenName};

/// A command to the Account aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Opens an account (sign-up, or an admin creating staff). A customer account names its
    /// Customer aggregate; staff and admin accounts have none.
    Open {
        /// The id, derived from the username ([`AccountId::for_username`]).
        account_id: AccountId,
        /// The name one signs in with.
        username: Username,
        /// The name shown in the audit trail.
        display_name: PersonName,
        /// The role.
        role: Role,
        /// The customer this account acts for (customers only).
        customer_id: Option<CustomerId>,
    },
    /// Gives the account another role.
    ChangeRole {
        /// The new role.
        role: Role,
    },
    /// Stops the account from signing in or using its tokens.
    Disable {
        /// Why.
        reason: Reason,
    },
    /// Lets a disabled account sign in again.
    Enable,
    /// Records a new personal API token (its secret is never an event).
    IssueToken {
        /// The token's id (public; the secret is separate).
        token_id: Uuid,
        /// Its label.
        name: TokenName,
    },
    /// Revokes a token.
    RevokeToken {
        /// The token's id.
        token_id: Uuid,
    },
}
