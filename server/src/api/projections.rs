//! Projection status and the operator actions, and the relay status: admins only, decided by
//! the application layer like every other use case. One call each.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::requests::SkipEvent;
use domain::views::{ProjectionStatus, RebuildAccepted, RelayStatus};
use eventstore::projection::RebuildStarted;

use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, Ctx};
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<Vec<ProjectionStatus>>> {
    Ok(Json(state.app.projections(&ctx)?))
}

pub async fn relay(State(state): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<RelayStatus>> {
    Ok(Json(state.app.relay_status(&ctx)?))
}

pub async fn rebuild(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<RebuildAccepted>)> {
    let accepted = state.app.rebuild(&ctx, &name).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

pub async fn rebuild_all(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> ApiResult<(StatusCode, Json<Vec<RebuildStarted>>)> {
    let started = state.app.rebuild_all(&ctx).await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

pub async fn retry(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<ProjectionStatus>> {
    Ok(Json(state.app.retry(&ctx, &name).await?))
}

pub async fn skip(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SkipEvent>,
) -> ApiResult<Json<ProjectionStatus>> {
    Ok(Json(state.app.skip(&ctx, &name, body).await?))
}

pub async fn relay_retry(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<RelayStatus>> {
    Ok(Json(state.app.relay_retry(&ctx).await?))
}

pub async fn relay_skip(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<SkipEvent>,
) -> ApiResult<Json<RelayStatus>> {
    Ok(Json(state.app.relay_skip(&ctx, body).await?))
}
