//! Projection status and the operator actions (admin), and the relay status. One call of the
//! application layer each; the admin credential is checked by [`RequireAdmin`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::requests::SkipEvent;
use domain::views::{ProjectionStatus, RebuildAccepted, RelayStatus};
use eventstore::projection::RebuildStarted;

use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath};
use crate::security::admin::RequireAdmin;
use crate::state::AppState;

/// Who the operator actions are recorded as.
const ADMIN: &str = "admin";

pub async fn list(State(state): State<AppState>) -> Json<Vec<ProjectionStatus>> {
    Json(state.app.projections())
}

pub async fn relay(State(state): State<AppState>) -> Json<RelayStatus> {
    Json(state.app.relay_status())
}

pub async fn rebuild(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<RebuildAccepted>)> {
    let accepted = state.app.rebuild(&name, ADMIN).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

pub async fn rebuild_all(
    _admin: RequireAdmin,
    State(state): State<AppState>,
) -> ApiResult<(StatusCode, Json<Vec<RebuildStarted>>)> {
    let started = state.app.rebuild_all(ADMIN).await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

pub async fn retry(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<ProjectionStatus>> {
    Ok(Json(state.app.retry(&name, ADMIN).await?))
}

pub async fn skip(
    _admin: RequireAdmin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SkipEvent>,
) -> ApiResult<Json<ProjectionStatus>> {
    Ok(Json(state.app.skip(&name, body, ADMIN).await?))
}
