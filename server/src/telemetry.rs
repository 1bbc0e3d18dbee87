//! Structured logging with `tracing` (`RUST_LOG` filters, default `info`), and the request
//! middleware: a span per request with method, route, correlation id and W3C trace id; the
//! correlation id comes from `X-Correlation-Id` (or is generated) and is echoed on the response;
//! the trace continues the request's `traceparent` (or starts one).

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use eventstore::TraceParent;
use orders::application::CorrelationId;
use tracing::Instrument as _;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::config::LogFormat;

/// The correlation header.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// The W3C trace context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Installs the global subscriber; safe to call more than once (later calls do nothing).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
    };
}

/// Middleware: correlation id, request span, response header.
pub async fn trace_request(mut request: Request, next: Next) -> Response {
    let supplied = request
        .headers()
        .get(CORRELATION_HEADER)
        .map(|v| v.to_str().ok().and_then(|s| Uuid::parse_str(s.trim()).ok()));
    let correlation_id = match supplied {
        None => Uuid::now_v7(),
        Some(Some(id)) => id,
        Some(None) => {
            return ApiError::bad_request(
                "invalid_correlation_id",
                "X-Correlation-Id must be a UUID.",
            )
            .into_response();
        }
    };
    request
        .extensions_mut()
        .insert(CorrelationId(correlation_id));
    // W3C trace context: continue the caller's trace (or start one) with a span id of ours;
    // the request's `traceparent` header is replaced by it, so every adapter reads the same
    // value (`RequestContext::from_headers`) and the events record this request as their
    // parent span.
    let trace = request
        .headers()
        .get(TRACEPARENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
        .map_or_else(TraceParent::new_root, |caller| caller.child());
    if let Ok(value) = HeaderValue::from_str(&trace.to_string()) {
        request.headers_mut().insert(TRACEPARENT_HEADER, value);
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        correlation_id = %correlation_id,
        trace_id = %trace.trace_id_hex(),
        span_id = %trace.parent_id_hex(),
        status = tracing::field::Empty,
    );
    let start = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    let status = response.status();
    span.in_scope(|| {
        let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), elapsed_ms, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), elapsed_ms, "request done");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&correlation_id.to_string()) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}
