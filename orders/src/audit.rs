//! The audit view of the event log: stored envelopes in the shape the REST API and the UI share.
//! The audit timeline is the one reader of the log outside the write side, by design.

use domain::views::{EventView, StreamView};
use eventstore::{RecordedEvent, StreamInfo};

/// A stored event as the audit timeline shows it.
pub fn event_view(e: RecordedEvent) -> EventView {
    let extra = |key: &str| {
        e.metadata
            .extra
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let (user_name, user_role) = (extra("user_name"), extra("role"));
    let traceparent = extra(eventstore::trace_context::METADATA_KEY);
    EventView {
        event_id: e.event_id,
        event_type: e.event_type,
        schema_version: e.schema_version,
        stream_id: e.stream_id,
        stream_type: e.stream_type,
        version: e.version,
        position: e.position,
        recorded_at: e.recorded_at,
        data: e.data,
        correlation_id: e.metadata.correlation_id,
        causation_id: e.metadata.causation_id,
        user_id: e.metadata.user_id,
        user_name,
        user_role,
        traceparent,
    }
}

/// A stream as the audit browser lists it.
pub fn stream_view(s: StreamInfo) -> StreamView {
    StreamView {
        stream_id: s.stream_id,
        stream_type: s.stream_type,
        version: s.version,
        event_count: s.event_count,
        last_event_at: s.last_event_at,
    }
}
