//! What a command can fail with, as one typed error for the REST API and the server functions.

use domain::DomainError;
use eventstore::StoreError;
use uuid::Uuid;

/// Why a command was not executed. Match on variants or on the stable [`CommandError::code`].
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The aggregate's rules (or a value type) rejected the command. Nothing was written.
    #[error(transparent)]
    Domain(#[from] DomainError),

    /// The command targets an aggregate that does not exist, or needs one that does not
    /// (the customer of a new order, the product of an order line).
    #[error("The {kind} {id} does not exist.")]
    NotFound {
        /// `"order"`, `"customer"` or `"product"` (the aggregate's stream type).
        kind: &'static str,
        /// The missing aggregate's id.
        id: Uuid,
    },

    /// Optimistic concurrency: the caller's expected version is not the stream's version (or,
    /// without an expected version, the retries ran out). Reload and try again.
    #[error(
        "The {stream} was changed by someone else (expected version {expected}, now {current})."
    )]
    Conflict {
        /// The stream id.
        stream: String,
        /// The version the command expected.
        expected: i64,
        /// The stream's current version.
        current: i64,
    },

    /// The idempotency key was already used for a different command.
    #[error("The idempotency key {key:?} was already used for a different request.")]
    IdempotencyKeyReused {
        /// The key.
        key: String,
    },

    /// The idempotency key is empty or too long.
    #[error("An idempotency key must be 1 to {max} characters long.")]
    InvalidIdempotencyKey {
        /// The length limit.
        max: usize,
    },

    /// The event store failed (database unreachable, shut down, unreadable data...).
    #[error("event store error: {0}")]
    Store(#[from] StoreError),

    /// Anything else that went wrong inside the service (with context).
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for CommandError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::from(e))
    }
}

impl CommandError {
    /// Stable machine-readable code, snake_case: the domain rule's own code for
    /// [`CommandError::Domain`], e.g. `"order_not_draft"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Domain(e) => e.code(),
            Self::NotFound { kind, .. } => match *kind {
                "order" => "order_not_found",
                "customer" => "customer_not_found",
                "product" => "product_not_found",
                _ => "not_found",
            },
            Self::Conflict { .. } => "conflict",
            Self::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            Self::InvalidIdempotencyKey { .. } => "idempotency_key_invalid",
            Self::Store(_) => "store_error",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Whether the caller is at fault (bad input, a rule, a stale version: a 4xx), as opposed
    /// to the server (a 5xx).
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Domain(e) => e.is_rejection(),
            Self::NotFound { .. }
            | Self::Conflict { .. }
            | Self::IdempotencyKeyReused { .. }
            | Self::InvalidIdempotencyKey { .. } => true,
            Self::Store(_) | Self::Internal(_) => false,
        }
    }
}

/// The result of the command service.
pub type CommandResult<T> = Result<T, CommandError>;
