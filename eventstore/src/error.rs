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
    /// The database ran out of disk space: nothing of the failed operation was written.
    #[error("the database is out of disk space: {0}")]
    StorageFull(String),
    #[error("storage error: {0}")]
    Storage(sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("the event store is shut down")]
    Closed,
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_disk_full(&e) {
            Self::StorageFull(e.to_string())
        } else {
            Self::Storage(e)
        }
    }
}

/// Whether `e` says the disk is full: SQLite `SQLITE_FULL` (13), PostgreSQL `disk_full`
/// (53100), or `ENOSPC` from the operating system.
pub fn is_disk_full(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("13" | "53100"))
                || db.message().contains("disk is full")
        }
        sqlx::Error::Io(io) => io.raw_os_error() == Some(28),
        _ => false,
    }
}

/// Whether `e` is a passing condition of the database rather than something the statement or
/// its data did: busy or locked (SQLite), serialization failure or deadlock, lost or refused
/// connections, exhausted resources (PostgreSQL classes 08, 53, 57), I/O and pool errors.
/// Retrying such an error can succeed; a constraint violation caused by the data cannot.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("5" | "6" | "13" | "261" | "517") => true,
            Some(code) => {
                matches!(code, "40001" | "40P01")
                    || code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57")
            }
            None => false,
        },
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}
