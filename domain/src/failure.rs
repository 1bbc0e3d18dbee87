//! The classification of every failure, shared by the server's application layer and the
//! browser: the server decides the kind once (`orders::application::AppError`), the REST API
//! answers its status, and the UI receives the same kind in its error.

use serde::{Deserialize, Serialize};

/// What kind of failure, and so which status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input could not be understood or breaks a value rule (400).
    Invalid,
    /// Not signed in (401).
    Unauthorized,
    /// Signed in, not allowed (403).
    Forbidden,
    /// The thing asked for does not exist (404).
    NotFound,
    /// Someone else changed it first, or the operation is already running (409).
    Conflict,
    /// A business rule said no (422).
    Rejected,
    /// Too many attempts; wait for `Retry-After` (429).
    Throttled,
    /// The server cannot do it right now; try again later (503).
    Unavailable,
    /// The database is out of space (507).
    StorageFull,
    /// A bug or an unexpected failure, logged (500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status of this kind.
    pub fn status(self) -> u16 {
        match self {
            Self::Invalid => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::Rejected => 422,
            Self::Throttled => 429,
            Self::Unavailable => 503,
            Self::StorageFull => 507,
            Self::Internal => 500,
        }
    }

    /// Whether the caller is at fault (a 4xx).
    pub fn is_client_error(self) -> bool {
        self.status() < 500
    }
}
