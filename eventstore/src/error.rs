//! Typed errors of the event store. Callers match on variants, never on strings.

use uuid::Uuid;

use crate::envelope::{ExpectedVersion, StreamConflict};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("wrong expected version on stream {stream}: expected {expected:?}, actual {actual}")]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        /// Current version of the stream (0 when it does not exist).
        actual: i64,
    },
    /// A multi-stream append ([`crate::EventStore::append_multi`]) whose expected versions did
    /// not all hold: every failing stream, in the order of the append. Nothing was written.
    #[error("wrong expected versions: {}", describe_conflicts(.conflicts))]
    WrongExpectedVersions { conflicts: Vec<StreamConflict> },
    /// A conditional append's query matched an event stored after the condition's `after`
    /// position: `position` is the first such event. Nothing was written.
    #[error("append condition failed: a matching event is stored at position {position}")]
    ConditionFailed { position: i64 },
    #[error("a multi-stream append needs at least one stream")]
    NoStreams,
    #[error("stream {stream} is listed more than once in one multi-stream append")]
    DuplicateStream { stream: String },
    #[error("the append to stream {stream} has no events")]
    EmptyStreamAppend { stream: String },
    /// A query with more types and tags than one statement can bind.
    #[error("the query has {terms} types and tags; at most {max} are allowed")]
    QueryTooLarge { terms: usize, max: usize },
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
    /// A sealed personal field that does not open with its subject's key (changed in the
    /// database, or another master key): the event is unreadable.
    #[error("a sealed personal field does not open: {0}")]
    Unsealable(String),
    /// The database ran out of disk space: nothing of the failed operation was written.
    #[error("the database is out of disk space: {0}")]
    StorageFull(String),
    #[error("storage error: {0}")]
    Storage(sqlx::Error),
    /// The database is unavailable for now: a lock or statement timeout (another session holds
    /// the log head), a connection lost and not re-established, or a group commit longer than
    /// its bound. From an append: nothing of it was written. Retrying later can succeed.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The connection was lost after the commit had been sent, and the store could not find
    /// out on a fresh connection whether the append was stored (or the writer task died holding
    /// the append). Retry with the same event ids (the same idempotency key): a stored append
    /// answers its original result.
    #[error(
        "the outcome of the append is unknown (the connection was lost during commit, or the writer died)"
    )]
    OutcomeUnknown,
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("the event store is shut down")]
    Closed,
}

pub type StoreResult<T> = Result<T, StoreError>;

fn describe_conflicts(conflicts: &[StreamConflict]) -> String {
    conflicts
        .iter()
        .map(|c| {
            format!(
                "stream {} expected {:?}, actual {}",
                c.stream, c.expected, c.actual
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<sqlx::Error> for StoreError {
    /// Disk full becomes [`StoreError::StorageFull`]; a lost connection or a lock / statement /
    /// pool timeout [`StoreError::Unavailable`] (a passing condition: retry later); anything else
    /// [`StoreError::Storage`].
    fn from(e: sqlx::Error) -> Self {
        if is_disk_full(&e) {
            Self::StorageFull(e.to_string())
        } else if is_connection_lost(&e) || is_timeout(&e) {
            Self::Unavailable(e.to_string())
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

/// Whether `e` says the session lost its connection to the database (so nothing more can be
/// learnt on it): I/O errors, a crashed connection worker, PostgreSQL connection exceptions
/// (class 08) and terminated sessions (`admin_shutdown`, `crash_shutdown`, `cannot_connect_now`:
/// `pg_terminate_backend`, a server restart).
pub fn is_connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// Whether `e` is a bounded wait that gave up: PostgreSQL `lock_not_available` (55P03,
/// `lock_timeout`), `query_canceled` (57014, `statement_timeout`), `idle_in_transaction_session_timeout`
/// (25P03), or the pool found no connection in time.
pub fn is_timeout(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("55P03" | "57014" | "25P03"))
        }
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// Whether `e` is a passing condition of the database rather than something the statement or
/// its data did: busy or locked (SQLite), serialization failure or deadlock, a lock or
/// idle-in-transaction timeout (55P03, 25P03), lost or refused connections, exhausted resources,
/// cancelled statements (PostgreSQL classes 08, 53, 57), I/O and pool errors.
/// Retrying such an error can succeed; a constraint violation caused by the data cannot.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("5" | "6" | "13" | "261" | "517") => true,
            Some(code) => {
                matches!(code, "40001" | "40P01" | "55P03" | "25P03")
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
