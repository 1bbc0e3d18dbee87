//! Identity beside the event log: what authenticates a request and must never be an event.
//!
//! * accounts, roles and token issue/revocation are the Account aggregate's events
//!   (`domain::account`), audited like every other change;
//! * password hashes (argon2id, `passwords.rs`) are in `auth_credentials` (`credentials.rs`);
//! * API tokens are stored as SHA-256 digests in `auth_tokens` (`tokens.rs`); whether one is
//!   live is its account's state, so a revocation holds on every instance at once;
//! * browser sessions are `tower-sessions` records in `auth_sessions` (`session_store.rs`), in
//!   the same database, so a sign-out (row deleted) holds on every instance;
//! * login attempts are throttled per account and per IP (`throttle.rs`);
//! * [`Principal`] (`principal.rs`) is who acts; the application layer decides what they may
//!   do (`crate::application::access`).

pub mod credentials;
pub mod passwords;
pub mod principal;
pub mod session_store;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;

use eventstore::Db;

pub use credentials::CredentialStore;
pub use principal::{Principal, SESSION_USER, SessionUser, SignedInWith};
pub use session_store::SqlSessionStore;
pub use throttle::{LoginThrottle, ThrottleConfig};
pub use tokens::TokenStore;

/// The identity stores and settings of one application.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Password hashes.
    pub credentials: CredentialStore,
    /// API token digests.
    pub tokens: TokenStore,
    /// Login throttling.
    pub throttle: Arc<LoginThrottle>,
    /// The bootstrap admin token, if configured: as a bearer token it acts as the bootstrap
    /// admin account.
    pub admin_token: Option<Arc<str>>,
}

impl Identity {
    /// The stores in `db`, default throttling, no admin token.
    pub fn new(db: &Db) -> Self {
        Self {
            credentials: CredentialStore::new(db.clone()),
            tokens: TokenStore::new(db.clone()),
            throttle: Arc::new(LoginThrottle::new(ThrottleConfig::default())),
            admin_token: None,
        }
    }
}

/// Username of the bootstrap admin account, created on first start; its password is the admin
/// token.
pub const BOOTSTRAP_ADMIN: &str = "admin";
