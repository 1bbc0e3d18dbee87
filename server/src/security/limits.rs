//! Request body size and request time limits, answered with the API's JSON errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use http_body_util::LengthLimitError;

use crate::api::error::ApiError;
use crate::state::AppState;

/// Refuses bodies over the limit: at once when `Content-Length` says so, otherwise when
/// reading the body crosses it: then the answer is the JSON 413 whatever the handler made of
/// the read error (a server function reports it as a 500). Websocket upgrades carry no body and
/// are unaffected.
pub async fn body_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.settings.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return ApiError::payload_too_large(limit).into_response();
    }
    let (parts, body) = request.into_parts();
    // Set when reading the body crossed the limit, however the handler then classified the
    // failure (the server functions answer a body read error with 500).
    let crossed = Arc::new(AtomicBool::new(false));
    let flag = crossed.clone();
    let limited = http_body_util::Limited::new(body, limit).map_err(move |error| {
        if error.is::<LengthLimitError>() {
            flag.store(true, Ordering::Relaxed);
        }
        error
    });
    let response = next
        .run(Request::from_parts(parts, Body::new(limited)))
        .await;
    let too_large =
        crossed.load(Ordering::Relaxed) || response.status() == StatusCode::PAYLOAD_TOO_LARGE;
    if too_large && !(response.status() == StatusCode::PAYLOAD_TOO_LARGE && is_json(&response)) {
        return ApiError::payload_too_large(limit).into_response();
    }
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Aborts requests that take longer than the configured timeout (503).
pub async fn timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = Duration::from_secs(state.settings.request_timeout_secs.max(1));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_secs = limit.as_secs(), "request timed out");
            ApiError::unavailable("timeout", "The request took too long and was aborted.")
                .into_response()
        }
    }
}
