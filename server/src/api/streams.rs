//! The audit browser: streams and their full event envelopes, read from the log directly (by
//! design: the audit trail is the log itself, not a read model). One call of the application
//! layer each.

use axum::Json;
use axum::extract::State;
use domain::requests::ListStreams;
use domain::views::{EventView, StreamPage};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::error::ApiResult;
use crate::api::extract::{ApiPath, ApiQuery, Ctx};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub from_version: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    pub limit: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<ListStreams>,
) -> ApiResult<Json<StreamPage>> {
    Ok(Json(state.app.streams(&ctx, q).await?))
}

pub async fn events(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(stream_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<Vec<EventView>>> {
    let events = state
        .app
        .stream_events(&ctx, &stream_id, q.from_version, q.limit)
        .await?;
    Ok(Json(events))
}

pub async fn correlated(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(correlation_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<Vec<EventView>>> {
    Ok(Json(
        state.app.correlated(&ctx, correlation_id, q.limit).await?,
    ))
}
