//! Extractors that reject with [`ApiError`] instead of axum's plain-text rejections: JSON bodies,
//! path and query parameters, and the command headers (`If-Match`, `Idempotency-Key`,
//! `X-Correlation-Id`, `X-User-Id`).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;
use uuid::Uuid;

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

/// The request's correlation id, put in the request extensions by the tracing middleware
/// (from `X-Correlation-Id`, or generated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for CorrelationId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<CorrelationId>()
            .copied()
            .unwrap_or_else(|| CorrelationId(Uuid::now_v7())))
    }
}

/// Longest accepted `Idempotency-Key` / `X-User-Id`.
const MAX_HEADER_TOKEN: usize = 200;

/// Everything a command takes from the request besides its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMeta {
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub user_id: String,
    pub idempotency_key: Option<String>,
    /// `If-Match`: the stream version the client expects.
    pub expected_version: Option<i64>,
}

impl FromRequestParts<AppState> for CommandMeta {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let CorrelationId(correlation_id) = CorrelationId::from_request_parts(parts, state).await?;
        let expected_version = match header_str(parts, "if-match")? {
            None => None,
            Some(raw) => Some(parse_if_match(raw)?),
        };
        let idempotency_key = match header_str(parts, "idempotency-key")? {
            None => None,
            Some(key) => Some(token(key, "Idempotency-Key", "invalid_idempotency_key")?),
        };
        let declared_user = match header_str(parts, "x-user-id")? {
            None => None,
            Some(user) => Some(token(user, "X-User-Id", "invalid_user_id")?),
        };
        let user_id = match declared_user {
            Some(user) => user,
            None if state.admin.is_admin_request(&parts.headers) => "admin".to_owned(),
            None => "anonymous".to_owned(),
        };
        Ok(Self {
            command_id: Uuid::now_v7(),
            correlation_id,
            user_id,
            idempotency_key,
            expected_version,
        })
    }
}

fn header_str<'a>(parts: &'a Parts, name: &str) -> Result<Option<&'a str>, ApiError> {
    match parts.headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(|s| Some(s.trim())).map_err(|_| {
            ApiError::bad_request(
                "invalid_header",
                format!("The {name} header is not valid text."),
            )
        }),
    }
}

/// `If-Match: 3`, `If-Match: "3"` or `If-Match: W/"3"`.
fn parse_if_match(raw: &str) -> Result<i64, ApiError> {
    let unquoted = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
    match unquoted.parse::<i64>() {
        Ok(version) if version >= 0 => Ok(version),
        _ => Err(ApiError::bad_request(
            "invalid_if_match",
            "If-Match must be the stream version you expect, a whole number like 3.",
        )),
    }
}

fn token(value: &str, header: &str, code: &'static str) -> Result<String, ApiError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_HEADER_TOKEN
        && value.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ApiError::bad_request(
            code,
            format!("{header} must be 1 to {MAX_HEADER_TOKEN} visible ASCII characters."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_forms() {
        assert_eq!(parse_if_match("3").ok(), Some(3));
        assert_eq!(parse_if_match("\"7\"").ok(), Some(7));
        assert_eq!(parse_if_match("W/\"2\"").ok(), Some(2));
        assert!(parse_if_match("-1").is_err());
        assert!(parse_if_match("abc").is_err());
    }
}
