//! Structured logging with `tracing` (`RUST_LOG` filters, default `info`), OpenTelemetry export
//! over OTLP/HTTP when `--otlp-endpoint` is set (off by default; `tracing-opentelemetry`), and
//! the request middleware: a span per request with method, route, correlation id and W3C trace
//! id; the correlation id comes from `X-Correlation-Id` (or is generated) and is echoed on the
//! response; the trace continues the request's `traceparent` (or starts one).

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

/// What the OpenTelemetry layer exports: requests and commands, and the spans that continue
/// the events' traces (projection batches and applies, relay publishes, which are debug spans).
const OTLP_FILTER: &str = "info,eventstore::projection=debug,orders::relay=debug";

/// Flushes the exported spans when dropped (at the end of `main`).
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("OpenTelemetry export did not shut down cleanly: {e}");
        }
    }
}

/// Installs the global subscriber; safe to call more than once (later calls do nothing). With
/// `otlp_endpoint` (e.g. `http://collector:4318`), spans are also exported over OTLP/HTTP
/// (protobuf) to `<endpoint>/v1/traces`, as service `eventide`.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> anyhow::Result<Telemetry> {
    use anyhow::Context as _;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig as _;

    let logs = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt_layer = match format {
        LogFormat::Text => fmt::layer().with_target(false).boxed(),
        LogFormat::Json => fmt::layer().json().flatten_event(true).boxed(),
    };
    let (otel_layer, provider) = match otlp_endpoint {
        None => (None, None),
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
                .build()
                .context("cannot build the OTLP exporter")?;
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("eventide")
                        .build(),
                )
                .build();
            let layer = tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("eventide"))
                .with_filter(EnvFilter::new(OTLP_FILTER));
            (Some(layer), Some(provider))
        }
    };
    let _ = tracing_subscriber::registry()
        .with(fmt_layer.with_filter(logs))
        .with(otel_layer)
        .try_init();
    Ok(Telemetry { provider })
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
    let caller = request
        .headers()
        .get(TRACEPARENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse);
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
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    // Exported to OpenTelemetry: the request span is the caller's child and its ids are the
    // ones the events record; else a span id of our own in the caller's trace (or a new one).
    eventstore::otel_link::continue_trace(&span, caller.as_ref());
    let trace = eventstore::otel_link::exported_ids(&span)
        .unwrap_or_else(|| caller.map_or_else(TraceParent::new_root, |caller| caller.child()));
    span.record("trace_id", trace.trace_id_hex().as_str());
    span.record("span_id", trace.parent_id_hex().as_str());
    if let Ok(value) = HeaderValue::from_str(&trace.to_string()) {
        request.headers_mut().insert(TRACEPARENT_HEADER, value);
    }
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
