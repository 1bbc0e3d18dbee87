//! The operator console's reads: the event browser, the log's statistics, the dead-letter
//! history and the causation tree of a correlation id. One call of the application layer each.

use axum::Json;
use axum::extract::State;
use domain::console::{CorrelationTree, DeadLetterPage, EventSearchPage, EventStats};
use domain::requests::SearchEvents;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::error::ApiResult;
use crate::api::extract::{ApiPath, ApiQuery, Ctx};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    pub projection: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

pub async fn search(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<SearchEvents>,
) -> ApiResult<Json<EventSearchPage>> {
    Ok(Json(state.app.search_events(&ctx, q).await?))
}

pub async fn stats(State(state): State<AppState>, Ctx(ctx): Ctx) -> ApiResult<Json<EventStats>> {
    Ok(Json(state.app.event_stats(&ctx)?))
}

pub async fn dead_letters(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<DeadLetterQuery>,
) -> ApiResult<Json<DeadLetterPage>> {
    Ok(Json(
        state
            .app
            .dead_letters(&ctx, q.projection, q.before, q.limit)
            .await?,
    ))
}

pub async fn correlation_tree(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(correlation_id): ApiPath<Uuid>,
) -> ApiResult<Json<CorrelationTree>> {
    Ok(Json(
        state.app.correlation_tree(&ctx, correlation_id).await?,
    ))
}
