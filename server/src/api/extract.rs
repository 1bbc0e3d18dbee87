//! Extractors that reject with [`ApiError`] instead of axum's plain-text rejections: JSON bodies,
//! path and query parameters, and the request context of commands ([`Ctx`]).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use orders::application::{CorrelationId, RequestContext};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::api::error::ApiError;
use crate::state::AppState;

/// A JSON request body (`Content-Type: application/json`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::unsupported_media_type(),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request("malformed_json", "The request body is not valid JSON.")
                .with_details(json!({ "reason": e.body_text() }))
        }
        JsonRejection::JsonDataError(e) => ApiError::bad_request(
            "invalid_body",
            "The request body does not have the expected fields and types.",
        )
        .with_details(json!({ "reason": e.body_text() })),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large.",
            )
        }
        other => ApiError::bad_request("invalid_body", "The request body could not be read.")
            .with_details(json!({ "reason": other.body_text() })),
    }
}

/// Path parameters (ids are parsed here: an invalid UUID is a 400).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => ApiError::bad_request(
            "invalid_path",
            "A path parameter is invalid (ids are UUIDs).",
        )
        .with_details(json!({ "reason": e.body_text() })),
        other => ApiError::internal(anyhow::anyhow!("path extraction: {}", other.body_text())),
    }
}

/// Query-string parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", "A query parameter is invalid.")
        .with_details(json!({ "reason": rejection.body_text() }))
}

/// The request's [`RequestContext`] (correlation id, `If-Match`, `Idempotency-Key`, and the
/// authenticated principal from its bearer token or session), built by the application layer's
/// one rule for every adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx(pub RequestContext);

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let correlation = parts.extensions.get::<CorrelationId>().copied();
        let session = parts.extensions.get::<tower_sessions::Session>();
        let principal = state.app.authenticate(&parts.headers, session).await?;
        Ok(Self(RequestContext::from_headers(
            &parts.headers,
            correlation,
            principal,
        )?))
    }
}
