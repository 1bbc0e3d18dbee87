//! The response contract check: every answer of a documented operation is compared with what
//! the OpenAPI document ([`super::openapi`]) declares for that operation and status: the status
//! must be declared, and a JSON body must match its schema (JSON Schema 2020-12, formats
//! checked, by the `jsonschema` crate). Off by default; `--check-responses log` logs violations
//! (a staging server), `enforce` also turns the answer into a 500 `contract_violation`, which
//! is how every API test of `cargo test -p server` runs (`Config::for_tests`), so a handler
//! that answers what the document does not say fails the test that called it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use crate::state::AppState;

/// What to do with answers that break the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ResponseCheck {
    /// No check (production default: no cost).
    #[default]
    Off,
    /// Log each violation at ERROR (never the body's values).
    Log,
    /// Log it and answer 500 `contract_violation` instead (tests).
    Enforce,
}

/// Largest body checked (larger answers are passed through unchecked).
const MAX_CHECKED_BYTES: usize = 16 * 1024 * 1024;

type Key = (String, String, u16);

/// Compiled validators by (route, method, status); `None`: the status has no JSON body.
fn validators() -> &'static Mutex<HashMap<Key, Option<Arc<jsonschema::Validator>>>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Option<Arc<jsonschema::Validator>>>>> =
        OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Every violation this process has seen, with the `Host` it was asked on (tests assert that
/// their server's list stays empty).
fn seen() -> &'static Mutex<Vec<(String, String)>> {
    static SEEN: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(Vec::new()))
}

/// The violations seen so far in this process on requests to `host`.
pub fn violations(host: &str) -> Vec<String> {
    seen()
        .lock()
        .map(|v| {
            v.iter()
                .filter(|(h, _)| h == host)
                .map(|(_, m)| m.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The declared answer of `route`/`method` for `status`, or why there is none.
fn declared(route: &str, method: &str, status: u16) -> Result<Option<Value>, String> {
    let doc = super::openapi::document_json();
    let Some(op) = doc["paths"][route].get(method) else {
        return Ok(None);
    };
    let response = op["responses"]
        .get(status.to_string())
        .or_else(|| op["responses"].get("default"))
        .ok_or_else(|| format!("status {status} is not declared"))?;
    Ok(response["content"]["application/json"]
        .get("schema")
        .cloned())
}

fn compile(schema: Value) -> Result<jsonschema::Validator, String> {
    let doc = super::openapi::document_json();
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"].clone(),
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("the document's schema does not compile: {e}"))
}

/// Whether the operation is documented at all, and its validator for `status`.
fn validator(
    route: &str,
    method: &str,
    status: u16,
) -> Result<Option<Arc<jsonschema::Validator>>, String> {
    let key = (route.to_owned(), method.to_owned(), status);
    if let Ok(cache) = validators().lock()
        && let Some(found) = cache.get(&key)
    {
        return Ok(found.clone());
    }
    let compiled = match declared(route, method, status)? {
        Some(schema) => Some(Arc::new(compile(schema)?)),
        None => None,
    };
    if let Ok(mut cache) = validators().lock() {
        cache.insert(key, compiled.clone());
    }
    Ok(compiled)
}

/// Middleware: checks the answer of every documented operation (see the module doc).
pub async fn check_responses(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mode = state.settings.check_responses;
    if mode == ResponseCheck::Off {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = request.method().as_str().to_ascii_lowercase();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    let Some(route) = route else {
        return response;
    };
    let documented = super::openapi::document_json()["paths"][&route]
        .get(&method)
        .is_some();
    if !documented {
        return response;
    }
    let status = response.status();
    let (parts, body) = response.into_parts();
    let (body, problem) = match validator(&route, &method, status.as_u16()) {
        Err(problem) => (Body::new(body), Some(problem)),
        Ok(None) => (Body::new(body), None),
        Ok(Some(validator)) => check_body(&validator, &parts.headers, body).await,
    };
    let Some(problem) = problem else {
        return Response::from_parts(parts, body);
    };
    let message = format!(
        "{} {route} answered {status}: {problem}",
        method.to_ascii_uppercase()
    );
    tracing::error!(violation = %message, "response breaks the OpenAPI document");
    if let Ok(mut seen) = seen().lock() {
        seen.push((host, message.clone()));
    }
    match mode {
        ResponseCheck::Enforce => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "contract_violation",
            message,
        )
        .into_response(),
        _ => Response::from_parts(parts, body),
    }
}

/// The body (as it was, whatever the outcome) and what is wrong with it, if anything.
async fn check_body(
    validator: &jsonschema::Validator,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> (Body, Option<String>) {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return (body, Some("the body is not application/json".to_owned()));
    }
    let bytes = match to_bytes(body, MAX_CHECKED_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return (
                Body::empty(),
                Some(format!("the body could not be read: {e}")),
            );
        }
    };
    let problem = match serde_json::from_slice::<Value>(&bytes) {
        Err(e) => Some(format!("the body is not JSON: {e}")),
        Ok(value) => {
            let problems: Vec<String> = validator
                .iter_errors(&value)
                .take(5)
                .map(|e| format!("at `{}`: {}", e.instance_path(), e.masked()))
                .collect();
            (!problems.is_empty()).then(|| problems.join("; "))
        }
    };
    (Body::from(bytes), problem)
}
