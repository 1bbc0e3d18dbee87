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
    /// What the event is about beyond its stream (`product:<id>`, `email:<hash>`): what
    /// [`EventQuery`] selects by. A set: stored sorted and without repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
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
            tags: Vec::new(),
        }
    }

    /// The event with these tags (replacing any it had).
    #[must_use]
    pub fn with_tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
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
    /// The event's tags, sorted and without repeats (empty for events stored without any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
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

/// One stream's part of an atomic multi-stream append
/// ([`crate::EventStore::append_multi`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamAppend {
    pub stream_id: String,
    pub stream_type: String,
    pub expected: ExpectedVersion,
    /// At least one.
    pub events: Vec<NewEvent>,
}

impl StreamAppend {
    pub fn new(
        stream_id: impl Into<String>,
        stream_type: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Self {
        Self {
            stream_id: stream_id.into(),
            stream_type: stream_type.into(),
            expected,
            events,
        }
    }
}

/// One stream whose expected version did not hold, in
/// [`crate::StoreError::WrongExpectedVersions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamConflict {
    pub stream: String,
    pub expected: ExpectedVersion,
    /// Current version of the stream (0 when it does not exist).
    pub actual: i64,
}

/// A query by event type and tag (the Dynamic Consistency Boundary of dcb.events): an event
/// matches it when it matches ANY of its items. A query without items matches no event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQuery {
    pub items: Vec<QueryItem>,
}

/// One alternative of an [`EventQuery`]: an event matches it when its type is one of `types`
/// (or `types` is empty) AND it carries every tag of `tags`. An item with neither matches every
/// event. Types are the stored types (before upcasting), like every SQL filter of the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryItem {
    #[serde(default)]
    pub types: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl EventQuery {
    /// A query of these items.
    pub fn new(items: impl IntoIterator<Item = QueryItem>) -> Self {
        Self {
            items: items.into_iter().collect(),
        }
    }

    /// A query of one item.
    pub fn item(item: QueryItem) -> Self {
        Self { items: vec![item] }
    }

    /// Whether an event of `event_type` carrying `tags` matches the query.
    pub fn matches(&self, event_type: &str, tags: &[String]) -> bool {
        self.items.iter().any(|item| item.matches(event_type, tags))
    }
}

impl QueryItem {
    /// Events of any of these types (no tag condition).
    pub fn types<I, T>(types: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self {
            types: types.into_iter().map(Into::into).collect(),
            tags: Vec::new(),
        }
    }

    /// Events carrying all these tags (any type).
    pub fn tags<I, T>(tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self {
            types: Vec::new(),
            tags: tags.into_iter().map(Into::into).collect(),
        }
    }

    /// This item, also requiring all these tags.
    #[must_use]
    pub fn with_tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Whether an event of `event_type` carrying `tags` matches this item.
    pub fn matches(&self, event_type: &str, tags: &[String]) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

/// The condition of a conditional append: it fails when an event matching `query` is stored at
/// a position after `after` (the position the caller's decision read up to; 0 = from the
/// start). Checked inside the append's transaction, under the log head lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendCondition {
    pub query: EventQuery,
    pub after: i64,
}

impl AppendCondition {
    pub fn new(query: EventQuery, after: i64) -> Self {
        Self { query, after }
    }
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
    /// The start of the ids, or the short id lists show (the id's last 8 hex digits).
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
