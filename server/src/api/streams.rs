//! The audit browser: streams and their full event envelopes, read from the log directly (by
//! design: the audit trail is the log itself, not a read model).

use axum::Json;
use axum::extract::State;
use domain::views::{EventView, StreamView};
use eventstore::{EventStore as _, StreamFilter};
use orders::audit::{event_view, stream_view};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamsQuery {
    #[serde(rename = "type")]
    pub stream_type: Option<String>,
    pub prefix: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// A page of the stream browser.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamPage {
    pub streams: Vec<StreamView>,
    /// Pass back as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub from_version: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    pub limit: Option<u32>,
}

fn limit(requested: Option<u32>) -> u32 {
    requested.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

fn short(value: Option<String>, what: &str) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.len() > 200 => Err(ApiError::bad_request(
            "invalid_query",
            format!("{what} is too long."),
        )),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StreamsQuery>,
) -> ApiResult<Json<StreamPage>> {
    let limit = limit(q.limit);
    let filter = StreamFilter {
        stream_type: short(q.stream_type, "type")?,
        id_prefix: short(q.prefix, "prefix")?,
        after: short(q.after, "after")?,
        limit: limit + 1,
    };
    let mut streams = state.store.list_streams(&filter).await?;
    let next_after = if streams.len() > limit as usize {
        streams.truncate(limit as usize);
        streams.last().map(|s| s.stream_id.clone())
    } else {
        None
    };
    let streams = streams.into_iter().map(stream_view).collect();
    Ok(Json(StreamPage {
        streams,
        next_after,
    }))
}

pub async fn events(
    State(state): State<AppState>,
    ApiPath(stream_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<Vec<EventView>>> {
    if stream_id.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_path",
            "The stream id is too long.",
        ));
    }
    let from = q.from_version.unwrap_or(1).max(1);
    let events = state
        .store
        .read_stream(&stream_id, from, limit(q.limit))
        .await?;
    if events.is_empty() && state.store.stream_version(&stream_id).await? == 0 {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "stream_not_found",
            "This stream does not exist.",
        ));
    }
    Ok(Json(events.into_iter().map(event_view).collect()))
}

pub async fn correlated(
    State(state): State<AppState>,
    ApiPath(correlation_id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult<Json<Vec<EventView>>> {
    let events = state
        .store
        .read_correlated(correlation_id, limit(q.limit))
        .await?;
    Ok(Json(events.into_iter().map(event_view).collect()))
}
