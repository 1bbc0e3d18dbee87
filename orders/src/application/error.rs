//! The one error of the application layer, with the one classification both ways in use.
//!
//! Every failure of a use case (bad input, a refused rule, a missing aggregate, a conflict, a
//! failed store) becomes an [`AppError`]: an [`ErrorKind`] (which decides the HTTP status), a
//! stable snake_case `code`, a message a person can read and optional JSON `details`. The REST
//! API and the server functions map it with a `From` impl each and never classify errors
//! themselves, so the same failure has the same status and code on both.
//!
//! Internal failures are logged here, once, with their whole chain; the message sent out is
//! generic (no SQL, no paths, no credentials).

use domain::account::AccountError;
pub use domain::failure::ErrorKind;
use domain::{DomainError, ValidationError};
use eventstore::StoreError;
use eventstore::projection::RunnerError;
use serde_json::{Value, json};

use crate::command::CommandError;
use crate::query::QueryError;

/// Why a use case failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    /// The classification.
    pub kind: ErrorKind,
    /// Stable machine-readable code, e.g. `order_not_draft`, `version_conflict`.
    pub code: &'static str,
    /// What a person reads.
    pub message: String,
    /// Machine-readable detail (`null` when none).
    pub details: Value,
    /// Seconds after which a retry makes sense (`Retry-After` for 503s).
    pub retry_after: Option<u64>,
}

impl AppError {
    /// An error of `kind` with `code` and `message`.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    /// Adds machine-readable details.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// A 400 with `code`.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    /// A 404 for a missing `kind` (`order`, `customer`, `product`, or another word).
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::NotFound,
            not_found_code(kind),
            format!("This {kind} does not exist."),
        )
        .with_details(json!({ "kind": kind, "id": id.to_string() }))
    }

    /// Logs `error` with its whole chain (`what` says where) and answers a generic 500.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what} failed");
        Self::new(
            ErrorKind::Internal,
            "internal_error",
            "Something went wrong on our side. Please try again later.",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

/// The aggregate kind of a stream id (`order`, `customer`, `product`), `item` for others.
fn stream_kind(stream: &str) -> &'static str {
    domain::ids::StreamId::parse(stream).map_or("item", |s| s.kind().as_str())
}

fn not_found_code(kind: &str) -> &'static str {
    match kind {
        "order" => "order_not_found",
        "customer" => "customer_not_found",
        "product" => "product_not_found",
        "stream" => "stream_not_found",
        "projection" => "projection_not_found",
        _ => "not_found",
    }
}

impl From<ValidationError> for AppError {
    fn from(error: ValidationError) -> Self {
        Self::invalid(error.code(), error.to_string())
    }
}

impl From<DomainError> for AppError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Validation(v) => v.into(),
            e @ DomainError::EmailTaken => Self::new(ErrorKind::Conflict, e.code(), e.to_string()),
            DomainError::InsufficientStock { shortages } => {
                let message = domain::stock::shortage_text(&shortages);
                Self::new(ErrorKind::Rejected, "insufficient_stock", message)
                    .with_details(json!({ "shortages": shortages }))
            }
            DomainError::Account(e @ AccountError::UsernameTaken) => {
                Self::new(ErrorKind::Conflict, e.code(), e.to_string())
            }
            DomainError::Account(e @ (AccountError::NotFound | AccountError::TokenNotFound)) => {
                Self::new(ErrorKind::NotFound, e.code(), e.to_string())
            }
            e if e.is_rejection() => Self::new(ErrorKind::Rejected, e.code(), e.to_string()),
            e => Self::internal("domain", e),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::StorageFull(detail) => {
                tracing::error!(%detail, "write refused: the database is out of disk space");
                Self::new(
                    ErrorKind::StorageFull,
                    "storage_full",
                    "The server is out of disk space, so this change was not saved. Try again once space has been freed.",
                )
            }
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "the event store is unavailable");
                Self {
                    retry_after: Some(1),
                    ..Self::new(
                        ErrorKind::Unavailable,
                        "store_unavailable",
                        "The database is not available right now. Try again in a moment (with the same Idempotency-Key for a change: it is applied at most once).",
                    )
                }
            }
            StoreError::OutcomeUnknown => {
                tracing::warn!("write outcome unknown: the connection was lost during commit");
                Self {
                    retry_after: Some(1),
                    ..Self::new(
                        ErrorKind::Unavailable,
                        "outcome_unknown",
                        "We could not confirm whether this change was saved. Retry it with the same Idempotency-Key: it is applied at most once.",
                    )
                }
            }
            other => Self::internal("event store", other),
        }
    }
}

impl From<CommandError> for AppError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Domain(e) => e.into(),
            CommandError::NotFound { kind, id } => Self::not_found(kind, id),
            CommandError::Conflict {
                stream,
                expected,
                current,
            } => {
                let kind = stream_kind(&stream);
                Self::new(
                    ErrorKind::Conflict,
                    "version_conflict",
                    format!(
                        "Someone else changed this {kind} meanwhile (it is now at version {current}); reload and try again."
                    ),
                )
                .with_details(json!({
                    "stream": stream,
                    "kind": kind,
                    "expected_version": expected,
                    "current_version": current,
                }))
            }
            e @ CommandError::IdempotencyKeyReused { .. } => {
                Self::new(ErrorKind::Conflict, "idempotency_key_reused", e.to_string())
            }
            e @ CommandError::InvalidIdempotencyKey { .. } => {
                Self::invalid("invalid_idempotency_key", e.to_string())
            }
            CommandError::Store(e) => e.into(),
            CommandError::Internal(e) => Self::internal("command", format!("{e:#}")),
        }
    }
}

impl From<QueryError> for AppError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::NotFound { entity, id } => Self::not_found(entity, id),
            QueryError::InvalidCursor => Self::invalid(
                "invalid_cursor",
                "The cursor is invalid; start from the first page.",
            ),
            other => Self::internal("query", other),
        }
    }
}

impl From<RunnerError> for AppError {
    fn from(error: RunnerError) -> Self {
        match error {
            RunnerError::UnknownProjection(name) => Self::new(
                ErrorKind::NotFound,
                "projection_not_found",
                "No projection has this name.",
            )
            .with_details(json!({ "projection": name })),
            RunnerError::RebuildInProgress {
                projection,
                generation,
            } => Self::new(
                ErrorKind::Conflict,
                "rebuild_in_progress",
                "A rebuild of this projection is already running.",
            )
            .with_details(json!({ "projection": projection, "generation": generation })),
            RunnerError::NotFaulted(name) => Self::new(
                ErrorKind::Conflict,
                "projection_not_faulted",
                "This projection is not faulted.",
            )
            .with_details(json!({ "projection": name })),
            other => Self::internal("projection runner", other),
        }
    }
}
