//! What every command endpoint shares: the reply of an accepted command (201 for a create,
//! `Idempotent-Replayed: true` for a replay, the stream version as `ETag`). Everything else (validation, context, metrics,
//! errors) is the application layer's (`orders::application`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orders::application::{Accepted, AppResult};

use crate::api::error::ApiResult;

/// `response` with `ETag: "<version>"`: the stream version, for the next `If-Match`.
pub fn with_etag(version: i64, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The response of a command: `201 Created` when `created`, else `200 OK`.
pub fn reply(result: AppResult<Accepted>, created: bool) -> ApiResult<Response> {
    let accepted = result?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let version = accepted.reply.version;
    let mut response = with_etag(version, (status, Json(accepted.reply)));
    if accepted.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}
