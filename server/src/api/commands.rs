//! What every command endpoint shares: the command context from the request, metrics, the
//! mapping of the service's outcome to `CommandReply` and of its errors to API errors.

use std::future::Future;
use std::time::Instant;

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::ValidationError;
use domain::values::Quantity;
use domain::views::CommandReply;
use orders::command::{CommandContext, CommandError, CommandOutcome};
use serde_json::json;
use tracing::Instrument as _;

use crate::api::error::ApiError;
use crate::api::extract::CommandMeta;
use crate::state::AppState;

/// The service's context for a request's command.
pub fn context(meta: &CommandMeta) -> CommandContext {
    let mut ctx = CommandContext::new()
        .with_command_id(meta.command_id)
        .with_correlation_id(meta.correlation_id)
        .with_user(meta.user_id.clone())
        .with_expected_version_opt(meta.expected_version);
    if let Some(key) = &meta.idempotency_key {
        ctx = ctx.with_idempotency_key(key.clone());
    }
    ctx
}

/// Runs a command: span, metrics, reply or error.
pub async fn run<E, F>(
    state: &AppState,
    name: &'static str,
    created: bool,
    meta: &CommandMeta,
    command: F,
) -> Result<Response, ApiError>
where
    F: Future<Output = Result<CommandOutcome<E>, CommandError>>,
{
    let span = tracing::info_span!(
        "command",
        command = name,
        correlation_id = %meta.correlation_id,
        command_id = %meta.command_id,
        user_id = %meta.user_id,
    );
    let start = Instant::now();
    let result = command.instrument(span.clone()).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) if e.is_client_error() => e.code(),
        Err(_) => "error",
    };
    state.metrics.command(name, outcome, start.elapsed());
    let _entered = span.enter();
    match result {
        Ok(outcome) => {
            tracing::info!(id = %outcome.id, version = outcome.version, position = outcome.position, replayed = outcome.replayed, "command accepted");
            let reply = CommandReply {
                id: outcome.id,
                version: outcome.version,
                position: outcome.position,
            };
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut response = (status, Json(reply)).into_response();
            if outcome.replayed {
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            Ok(response)
        }
        Err(error) => {
            if error.is_client_error() {
                tracing::info!(code = error.code(), "command rejected: {error}");
            }
            Err(command_error(error))
        }
    }
}

/// The API error of a command failure.
pub fn command_error(error: CommandError) -> ApiError {
    match error {
        CommandError::Domain(e) if e.is_rejection() => ApiError::domain(&e),
        CommandError::NotFound { kind, id } => {
            let code = match kind {
                "order" => "order_not_found",
                "customer" => "customer_not_found",
                "product" => "product_not_found",
                _ => "not_found",
            };
            ApiError::new(
                StatusCode::NOT_FOUND,
                code,
                format!("This {kind} does not exist."),
            )
            .with_details(json!({ "kind": kind, "id": id }))
        }
        CommandError::Conflict {
            stream,
            expected,
            current,
        } => ApiError::conflict(
            "version_conflict",
            "Someone else changed this in the meantime; reload and try again.",
        )
        .with_details(
            json!({ "stream": stream, "expected_version": expected, "current_version": current }),
        ),
        e @ CommandError::IdempotencyKeyReused { .. } => {
            ApiError::conflict("idempotency_key_reused", e.to_string())
        }
        e @ CommandError::InvalidIdempotencyKey { .. } => {
            ApiError::bad_request("invalid_idempotency_key", e.to_string())
        }
        CommandError::Store(eventstore::StoreError::StorageFull(detail)) => {
            tracing::error!(%detail, "command refused: the database is out of disk space");
            ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "The server is out of disk space, so the command was not saved. Try again once space has been freed.",
            )
        }
        other => ApiError::internal(anyhow::Error::new(other).context("command failed")),
    }
}

/// A quantity from JSON (an integer of any size: out-of-range values get the domain's message).
pub fn quantity(value: i64) -> Result<Quantity, ApiError> {
    let value = u32::try_from(value)
        .map_err(|_| ApiError::validation(&ValidationError::QuantityOutOfRange(value)))?;
    Quantity::new(value).map_err(|e| ApiError::validation(&e))
}

/// Parses a value type, mapping its validation error to a 400.
pub fn parse<T>(result: Result<T, ValidationError>) -> Result<T, ApiError> {
    result.map_err(|e| ApiError::validation(&e))
}
