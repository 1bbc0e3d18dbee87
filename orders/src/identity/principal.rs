//! Who is acting: the authenticated principal of a request, taken from its session or API token
//! (never from anything the client declares), and what of it the events' metadata records.

use domain::account::{AccountState, Role};
use domain::views::Viewer;
use domain::{AccountId, CustomerId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// How the principal proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedInWith {
    /// A browser session; `login_id` names the sign-in (not the secret cookie).
    Session {
        /// The id of the sign-in, recorded in the audit trail.
        login_id: Uuid,
    },
    /// A personal API token, by its public id.
    Token {
        /// The token's id.
        token_id: Uuid,
    },
    /// The bootstrap admin token of the configuration / data directory.
    AdminToken,
    /// The server itself (seed, bootstrap).
    System,
}

impl SignedInWith {
    /// The audit trail's form: `session:<id>`, `token:<id>`, `admin_token`, `system`.
    pub fn audit(&self) -> String {
        match self {
            Self::Session { login_id } => format!("session:{login_id}"),
            Self::Token { token_id } => format!("token:{token_id}"),
            Self::AdminToken => "admin_token".to_owned(),
            Self::System => "system".to_owned(),
        }
    }
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub account_id: AccountId,
    /// The username (the events' `user_id`).
    pub username: String,
    /// The name the audit trail shows.
    pub display_name: String,
    /// The role now.
    pub role: Role,
    /// The customer a customer account acts for.
    pub customer_id: Option<CustomerId>,
    /// How they signed in.
    pub via: SignedInWith,
}

impl Principal {
    /// The principal of an active account, or `None` if it does not exist or is disabled.
    pub fn of(state: &AccountState, via: SignedInWith) -> Option<Self> {
        if !state.is_active() {
            return None;
        }
        Some(Self {
            account_id: state.account_id?,
            username: state.username.as_ref()?.to_string(),
            display_name: state.display_name.as_ref()?.to_string(),
            role: state.role?,
            customer_id: state.customer_id,
            via,
        })
    }

    /// The server acting as itself under `name` (seed data, the bootstrap admin), as an admin.
    pub fn system(name: &str) -> Self {
        Self {
            account_id: AccountId::new(Uuid::nil()),
            username: name.to_owned(),
            display_name: name.to_owned(),
            role: Role::Admin,
            customer_id: None,
            via: SignedInWith::System,
        }
    }

    /// What the browser may know of this user.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            customer_id: self.customer_id.map(|c| c.as_uuid()),
        }
    }

    /// The events' metadata beside `user_id`: role, display name and how they signed in.
    pub fn actor(&self) -> Map<String, Value> {
        let Value::Object(mut map) = json!({
            "user_name": self.display_name,
            "role": self.role.as_str(),
            "auth": self.via.audit(),
        }) else {
            return Map::new();
        };
        // A customer's own name is personal data: sealed with their key (see
        // `command::personal_data`), which needs to know whose it is.
        if let Some(customer) = self.customer_id {
            map.insert(
                crate::command::personal_data::ACTOR_CUSTOMER_FIELD.to_owned(),
                Value::String(customer.as_uuid().to_string()),
            );
        }
        map
    }
}

/// What a session stores: which account signed in, and the sign-in's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// The account.
    pub account_id: Uuid,
    /// The sign-in.
    pub login_id: Uuid,
}

/// The key of [`SessionUser`] in the session.
pub const SESSION_USER: &str = "user";
