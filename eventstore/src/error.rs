//! Typed errors of the event store. Callers match on variants, never on strings.

use uuid::Uuid;

use crate::envelope::ExpectedVersion;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("wrong expected version on stream {stream}: expected {expected:?}, actual {actual}")]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        /// Current version of the stream (0 when it does not exist).
        actual: i64,
    },
    #[error("event {event_id} was already stored with different content")]
    IdempotencyConflict { event_id: Uuid },
    #[error("an append needs at least one event")]
    EmptyAppend,
    #[error("serialization error: {0}")]
    Serialization(#[from] serde_json::Error),
    #[error("upcasting {event_type} v{from_version} failed: {reason}")]
    Upcast {
        event_type: String,
        from_version: i32,
        reason: String,
    },
    #[error("storage error: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("the event store is shut down")]
    Closed,
}

pub type StoreResult<T> = Result<T, StoreError>;
