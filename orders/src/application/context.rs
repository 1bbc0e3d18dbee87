//! The context of one request, taken from the request in one way for every adapter.
//!
//! * the correlation id is the request's (`X-Correlation-Id`, or the one the request middleware
//!   generated and echoes on the response): the REST API and the server functions both read it
//!   from the request extensions ([`CorrelationId`]), so a UI command's events carry the id the
//!   browser's response shows;
//! * the acting user comes from [`RequestContext::from_headers`], the one rule for both;
//! * `Idempotency-Key` and `If-Match` are parsed here (the server functions pass the version the
//!   page showed and the form's key as arguments instead; [`RequestContext::with_expected_version`]
//!   and [`RequestContext::with_idempotency_key`]).

use http::HeaderMap;
use uuid::Uuid;

use crate::application::error::AppError;
use crate::command::CommandContext;

/// The request's correlation id, put in the request extensions by the request middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationId(pub Uuid);

/// Longest accepted `Idempotency-Key` / `X-User-Id`.
const MAX_HEADER_TOKEN: usize = 200;

/// Who asks, why, and under which conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The request's correlation id.
    pub correlation_id: Uuid,
    /// The acting user, as recorded in the events' metadata.
    pub user_id: String,
    /// Makes retries of this request safe.
    pub idempotency_key: Option<String>,
    /// The stream version the caller saw.
    pub expected_version: Option<i64>,
}

impl RequestContext {
    /// A context with a fresh correlation id for `user_id` (seed, tools, tests).
    pub fn for_user(user_id: impl Into<String>) -> Self {
        Self {
            correlation_id: Uuid::now_v7(),
            user_id: user_id.into(),
            idempotency_key: None,
            expected_version: None,
        }
    }

    /// The context of an HTTP request: its correlation id (a new one if the middleware did not
    /// set any), `Idempotency-Key`, `If-Match`, and the user: `X-User-Id` when given, else
    /// `admin` for a request with the admin credential, else `anonymous`.
    pub fn from_headers(
        headers: &HeaderMap,
        correlation_id: Option<CorrelationId>,
        is_admin: bool,
    ) -> Result<Self, AppError> {
        let expected_version = header_str(headers, "if-match")?
            .map(parse_if_match)
            .transpose()?;
        let idempotency_key = header_str(headers, "idempotency-key")?
            .map(|key| token(key, "Idempotency-Key", "invalid_idempotency_key"))
            .transpose()?;
        let declared_user = header_str(headers, "x-user-id")?
            .map(|user| token(user, "X-User-Id", "invalid_user_id"))
            .transpose()?;
        let user_id = match declared_user {
            Some(user) => user,
            None if is_admin => "admin".to_owned(),
            None => "anonymous".to_owned(),
        };
        Ok(Self {
            correlation_id: correlation_id.map_or_else(Uuid::now_v7, |c| c.0),
            user_id,
            idempotency_key,
            expected_version,
        })
    }

    /// Sets the expected version (the version a page showed).
    #[must_use]
    pub fn with_expected_version(mut self, version: Option<i64>) -> Self {
        self.expected_version = version;
        self
    }

    /// Sets the idempotency key (a form submission's key); an empty key means none.
    pub fn with_idempotency_key(mut self, key: Option<String>) -> Result<Self, AppError> {
        self.idempotency_key = key
            .filter(|k| !k.is_empty())
            .map(|k| token(&k, "The idempotency key", "invalid_idempotency_key"))
            .transpose()?;
        Ok(self)
    }

    /// The command service's context for one command of this request (a fresh command id).
    pub fn command(&self) -> CommandContext {
        let ctx = CommandContext::new()
            .with_correlation_id(self.correlation_id)
            .with_user(self.user_id.clone())
            .with_expected_version_opt(self.expected_version);
        match &self.idempotency_key {
            Some(key) => ctx.with_idempotency_key(key.clone()),
            None => ctx,
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AppError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(|s| Some(s.trim())).map_err(|_| {
            AppError::invalid(
                "invalid_header",
                format!("The {name} header is not valid text."),
            )
        }),
    }
}

/// `If-Match: 3`, `If-Match: "3"` or `If-Match: W/"3"`.
fn parse_if_match(raw: &str) -> Result<i64, AppError> {
    let unquoted = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
    match unquoted.parse::<i64>() {
        Ok(version) if version >= 0 => Ok(version),
        _ => Err(AppError::invalid(
            "invalid_if_match",
            "If-Match must be the stream version you expect, a whole number like 3.",
        )),
    }
}

fn token(value: &str, what: &str, code: &'static str) -> Result<String, AppError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_HEADER_TOKEN
        && value.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AppError::invalid(
            code,
            format!("{what} must be 1 to {MAX_HEADER_TOKEN} visible ASCII characters."),
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

    #[test]
    fn the_user_rule() {
        let mut headers = HeaderMap::new();
        let anonymous = RequestContext::from_headers(&headers, None, false);
        assert_eq!(
            anonymous.map(|c| c.user_id).ok().as_deref(),
            Some("anonymous")
        );
        let admin = RequestContext::from_headers(&headers, None, true);
        assert_eq!(admin.map(|c| c.user_id).ok().as_deref(), Some("admin"));
        headers.insert("x-user-id", http::HeaderValue::from_static("alice"));
        let declared = RequestContext::from_headers(&headers, None, true);
        assert_eq!(declared.map(|c| c.user_id).ok().as_deref(), Some("alice"));
        headers.insert("x-user-id", http::HeaderValue::from_static("a b"));
        let bad = RequestContext::from_headers(&headers, None, false);
        assert_eq!(bad.err().map(|e| e.code), Some("invalid_user_id"));
    }
}
