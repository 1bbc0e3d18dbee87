//! The context of one request, taken from the request in one way for every adapter.
//!
//! * the correlation id is the request's (`X-Correlation-Id`, or the one the request middleware
//!   generated and echoes on the response): the REST API and the server functions both read it
//!   from the request extensions ([`CorrelationId`]), so a UI command's events carry the id the
//!   browser's response shows;
//! * the acting user is the request's authenticated [`Principal`] (its session or API token,
//!   resolved by [`Application::authenticate`](crate::application::Application::authenticate));
//!   nothing the client declares names the user (there is no `X-User-Id`);
//! * the trace is the request's `traceparent` (the server's request middleware continues the
//!   caller's, or starts a trace, and puts its own span id in it), recorded with the events;
//! * `Idempotency-Key` and `If-Match` are parsed here (the server functions pass the version the
//!   page showed and the form's key as arguments instead; [`RequestContext::with_expected_version`]
//!   and [`RequestContext::with_idempotency_key`]).

use http::HeaderMap;
use uuid::Uuid;

use crate::application::error::AppError;
use crate::command::CommandContext;
use crate::identity::Principal;

/// The request's correlation id, put in the request extensions by the request middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationId(pub Uuid);

/// The client's address (trusted proxies applied), put in the request extensions by the
/// server's middleware; sign-in throttling counts attempts per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// Longest accepted `Idempotency-Key`.
const MAX_HEADER_TOKEN: usize = 200;

/// Who asks, why, and under which conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The request's correlation id.
    pub correlation_id: Uuid,
    /// The authenticated user; `None` for an anonymous request.
    pub principal: Option<Principal>,
    /// Makes retries of this request safe.
    pub idempotency_key: Option<String>,
    /// The stream version the caller saw.
    pub expected_version: Option<i64>,
    /// What the caller reacted to (`X-Causation-Id`: an event or command id), recorded with
    /// the command's events so the console's causation tree can place it.
    pub caused_by: Option<Uuid>,
    /// The request's W3C `traceparent` (the server middleware continues the caller's or starts
    /// one), recorded with the command's events.
    pub trace_parent: Option<eventstore::TraceParent>,
}

impl RequestContext {
    /// A context with a fresh correlation id acting as `principal` (seed, tools, tests).
    pub fn acting_as(principal: Principal) -> Self {
        Self {
            correlation_id: Uuid::now_v7(),
            principal: Some(principal),
            idempotency_key: None,
            expected_version: None,
            caused_by: None,
            trace_parent: None,
        }
    }

    /// The context of an HTTP request made by `principal` (`None`: anonymous): its correlation
    /// id (a new one if the middleware did not set any), `Idempotency-Key` and `If-Match`.
    pub fn from_headers(
        headers: &HeaderMap,
        correlation_id: Option<CorrelationId>,
        principal: Option<Principal>,
    ) -> Result<Self, AppError> {
        let expected_version = header_str(headers, "if-match")?
            .map(parse_if_match)
            .transpose()?;
        let idempotency_key = header_str(headers, "idempotency-key")?
            .map(|key| token(key, "Idempotency-Key", "invalid_idempotency_key"))
            .transpose()?;
        let caused_by = header_str(headers, "x-causation-id")?
            .map(|raw| {
                Uuid::parse_str(raw).map_err(|_| {
                    AppError::invalid(
                        "invalid_causation_id",
                        "X-Causation-Id must be a UUID (the event or command you reacted to).",
                    )
                })
            })
            .transpose()?;
        // An invalid traceparent is ignored (the W3C rule: start a new trace), never refused.
        let trace_parent = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(eventstore::TraceParent::parse);
        Ok(Self {
            correlation_id: correlation_id.map_or_else(Uuid::now_v7, |c| c.0),
            principal,
            idempotency_key,
            expected_version,
            caused_by,
            trace_parent,
        })
    }

    /// The acting user's name for logs (`anonymous` when nobody is signed in).
    pub fn user(&self) -> &str {
        self.principal
            .as_ref()
            .map_or("anonymous", |p| p.username.as_str())
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
        let mut ctx = CommandContext::new()
            .with_correlation_id(self.correlation_id)
            .with_expected_version_opt(self.expected_version)
            .with_caused_by(self.caused_by)
            .with_trace_parent(self.trace_parent);
        if let Some(principal) = &self.principal {
            ctx = ctx
                .with_user(principal.username.clone())
                .with_actor(principal.actor());
        }
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
    fn a_declared_user_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert("x-user-id", http::HeaderValue::from_static("admin"));
        let ctx = RequestContext::from_headers(&headers, None, None).unwrap();
        assert_eq!(ctx.user(), "anonymous");
        assert_eq!(ctx.command().user_id, None);
        let system = Principal::system("seed");
        let ctx = RequestContext::from_headers(&headers, None, Some(system)).unwrap();
        let command = ctx.command();
        assert_eq!(command.user_id.as_deref(), Some("seed"));
        assert_eq!(
            command.actor.get("role").and_then(|v| v.as_str()),
            Some("admin")
        );
        assert_eq!(
            command.actor.get("auth").and_then(|v| v.as_str()),
            Some("system")
        );
    }
}
