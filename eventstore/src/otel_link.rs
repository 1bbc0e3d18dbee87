//! OpenTelemetry continuity (feature `otel`; without it every function here does nothing): a
//! span that handles one event becomes a child of the span that recorded the event (its
//! `traceparent`), a span that handles a batch links to the traces of its events (OpenTelemetry
//! span links, the model for batch consumers), and the request middleware reads the exported
//! span's ids back so the events record the span that is actually exported.

use crate::trace_context::TraceParent;

/// Most links one batch span carries (a batch of a thousand events from a thousand requests
/// would otherwise make one huge span).
pub const MAX_LINKS: usize = 64;

#[cfg(feature = "otel")]
fn span_context(parent: &TraceParent) -> opentelemetry::trace::SpanContext {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    SpanContext::new(
        TraceId::from_bytes(parent.trace_id),
        SpanId::from_bytes(parent.parent_id),
        TraceFlags::new(parent.flags),
        true,
        TraceState::default(),
    )
}

/// Makes `span` a child of `parent` (a remote span: the request that recorded the event).
pub fn continue_trace(span: &tracing::Span, parent: Option<&TraceParent>) {
    #[cfg(feature = "otel")]
    if let Some(parent) = parent {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = opentelemetry::Context::new().with_remote_span_context(span_context(parent));
        let _ = span.set_parent(cx);
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, parent);
}

/// Links `span` to each distinct trace of `parents` (at most [`MAX_LINKS`]).
pub fn link_traces<'a>(span: &tracing::Span, parents: impl Iterator<Item = &'a TraceParent>) {
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let mut seen: Vec<[u8; 16]> = Vec::new();
        for parent in parents {
            if seen.len() >= MAX_LINKS {
                break;
            }
            if !seen.contains(&parent.trace_id) {
                seen.push(parent.trace_id);
                span.add_link(span_context(parent));
            }
        }
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, parents.count());
}

/// The ids OpenTelemetry gave `span`, when it is exported (else `None`).
pub fn exported_ids(span: &tracing::Span) -> Option<TraceParent> {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            return Some(TraceParent {
                trace_id: sc.trace_id().to_bytes(),
                parent_id: sc.span_id().to_bytes(),
                flags: sc.trace_flags().to_u8(),
            });
        }
        None
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = span;
        None
    }
}
