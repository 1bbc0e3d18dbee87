//! Projection status and the operator actions (admin), and the relay status.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::views::{ProjectionStatus, RelayStatus};
use eventstore::projection::{RebuildStarted, RunnerError};
use orders::status::projection_status;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{ApiJson, ApiPath};
use crate::security::admin::RequireAdmin;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipEvent {
    pub reason: String,
}

/// Answer of a single rebuild.
#[derive(Debug, Serialize, Deserialize)]
pub struct RebuildAccepted {
    pub projection: String,
    pub generation: i64,
}

/// Every projection's status.
pub fn statuses(state: &AppState) -> Vec<ProjectionStatus> {
    state
        .runner
        .status()
        .into_iter()
        .map(projection_status)
        .collect()
}

fn runner_error(error: RunnerError) -> ApiError {
    match error {
        RunnerError::UnknownProjection(name) => ApiError::new(
            StatusCode::NOT_FOUND,
            "projection_not_found",
            "No projection has this name.",
        )
        .with_details(json!({ "projection": name })),
        RunnerError::RebuildInProgress {
            projection,
            generation,
        } => ApiError::conflict(
            "rebuild_in_progress",
            "A rebuild of this projection is already running.",
        )
        .with_details(json!({ "projection": projection, "generation": generation })),
        RunnerError::NotFaulted(name) => {
            ApiError::conflict("projection_not_faulted", "This projection is not faulted.")
                .with_details(json!({ "projection": name }))
        }
        other => ApiError::internal(anyhow::Error::new(other).context("projection runner")),
    }
}

fn status_of(state: &AppState, name: &str) -> ApiResult<Json<ProjectionStatus>> {
    state
        .runner
        .status_of(name)
        .map(|s| Json(projection_status(s)))
        .map_err(runner_error)
}

pub async fn list(State(state): State<AppState>) -> Json<Vec<ProjectionStatus>> {
    Json(statuses(&state))
}

pub async fn relay(State(state): State<AppState>) -> Json<RelayStatus> {
    Json(state.relay.status())
}

pub async fn rebuild(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<RebuildAccepted>)> {
    let generation = state.runner.rebuild(&name).await.map_err(runner_error)?;
    tracing::info!(projection = %name, generation, "rebuild started by admin");
    Ok((
        StatusCode::ACCEPTED,
        Json(RebuildAccepted {
            projection: name,
            generation,
        }),
    ))
}

pub async fn rebuild_all(
    _admin: RequireAdmin,
    State(state): State<AppState>,
) -> ApiResult<(StatusCode, Json<Vec<RebuildStarted>>)> {
    let started = state.runner.rebuild_all().await.map_err(runner_error)?;
    tracing::info!(
        count = started.len(),
        "rebuild of every projection started by admin"
    );
    Ok((StatusCode::ACCEPTED, Json(started)))
}

pub async fn retry(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<ProjectionStatus>> {
    state.runner.retry(&name).await.map_err(runner_error)?;
    tracing::info!(projection = %name, "retry requested by admin");
    status_of(&state, &name)
}

pub async fn skip(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SkipEvent>,
) -> ApiResult<Json<ProjectionStatus>> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::bad_request(
            "invalid_reason",
            "Give a reason of 1 to 500 characters.",
        ));
    }
    state
        .runner
        .skip(&name, reason, "admin")
        .await
        .map_err(runner_error)?;
    tracing::warn!(projection = %name, reason, "faulted event skipped by admin");
    status_of(&state, &name)
}
