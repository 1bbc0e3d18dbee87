//! [`RunnerError`]: what the runner's operator API answers when it refuses or fails.

use crate::error::StoreError;

/// Errors of the runner's operator API.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("unknown projection {0}")]
    UnknownProjection(String),
    /// A rebuild of this projection is already running (HTTP 409).
    #[error("projection {projection} is already rebuilding generation {generation}")]
    RebuildInProgress { projection: String, generation: i64 },
    #[error("projection {0} is not faulted")]
    NotFaulted(String),
    /// The projection's own code failed outside `apply` (e.g. `drop_generation`).
    #[error("projection {projection} failed: {message}")]
    Projection { projection: String, message: String },
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl From<sqlx::Error> for RunnerError {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(StoreError::Storage(e))
    }
}
