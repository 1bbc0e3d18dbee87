//! What every command endpoint shares: the reply of an accepted command (201 for a create,
//! `Idempotent-Replayed: true` for a replay). Everything else (validation, context, metrics,
//! errors) is the application layer's (`orders::application`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use orders::application::{Accepted, AppResult};

use crate::api::error::ApiResult;

/// The response of a command: `201 Created` when `created`, else `200 OK`.
pub fn reply(result: AppResult<Accepted>, created: bool) -> ApiResult<Response> {
    let accepted = result?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(accepted.reply)).into_response();
    if accepted.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}
