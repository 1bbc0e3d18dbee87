//! The event envelope: what a caller hands to `append` and what every read path returns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who and what caused an event. Carried by every event and copied into the broker's headers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Shared by every event that one user action caused, across streams.
    pub correlation_id: Option<Uuid>,
    /// The id of the command (or event) that directly caused this event.
    pub causation_id: Option<Uuid>,
    /// The authenticated or declared user that issued the command.
    pub user_id: Option<String>,
    /// Free-form extra fields.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An event about to be appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// UUID v7. A retry that re-sends the same id is recognised and not written twice.
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub data: serde_json::Value,
    pub metadata: EventMetadata,
}

impl NewEvent {
    /// A new event with a fresh UUID v7 id.
    pub fn new(
        event_type: impl Into<String>,
        schema_version: i32,
        data: serde_json::Value,
        metadata: EventMetadata,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version,
            data,
            metadata,
        }
    }
}

/// An event as stored: the new event plus where and when it landed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub data: serde_json::Value,
    pub metadata: EventMetadata,
    pub stream_id: String,
    pub stream_type: String,
    /// 1-based, contiguous within the stream.
    pub version: i64,
    /// 1-based, contiguous in the global log, in commit order.
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
}

/// The optimistic-concurrency condition of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must have at least one event.
    StreamExists,
    /// The stream's current version must be exactly this (0 means no stream).
    Exact(i64),
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResult {
    pub first_version: i64,
    pub last_version: i64,
    pub first_position: i64,
    pub last_position: i64,
}

/// One row of the stream browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    pub stream_id: String,
    pub stream_type: String,
    pub version: i64,
    pub event_count: i64,
    pub last_event_at: DateTime<Utc>,
}

/// Filter and page of `list_streams`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamFilter {
    pub stream_type: Option<String>,
    pub id_prefix: Option<String>,
    /// Return streams whose id sorts after this one (keyset paging).
    pub after: Option<String>,
    pub limit: u32,
}

/// A stored snapshot of an aggregate's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub stream_id: String,
    /// The stream version the state includes.
    pub version: i64,
    /// The snapshot format's own version; a different one in code means "no snapshot".
    pub schema_version: i32,
    pub state: serde_json::Value,
}
