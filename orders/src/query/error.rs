//! What a query can fail with: one typed error for every query of [`super::QueryService`], so the
//! HTTP layer maps each case (not found, bad cursor, corrupt row, no progress, storage) once.

/// What a query can fail with.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No such order / customer / product in the read model.
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The paging cursor was not produced by this service.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A read-model row could not be read back (bug or tampering).
    #[error("read model {projection} holds an invalid row: {reason}")]
    Corrupt {
        projection: &'static str,
        reason: String,
    },
    /// The projection runner could not report progress.
    #[error("projection progress unavailable: {0:#}")]
    Progress(anyhow::Error),
    #[error("storage error: {0}")]
    Storage(#[from] sqlx::Error),
}

pub type QueryResult<T> = Result<T, QueryError>;
