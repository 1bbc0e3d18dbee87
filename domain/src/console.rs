//! What the operator console shows beyond projection status: lag trends, event statistics,
//! the event browser's pages, dead letters and the causation tree of one correlation id.
//! Plain data shared by the REST API, the websocket and the browser.

#![allow(missing_docs)] // plain data shapes: the field names say what they hold

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::views::EventView;

/// One minute of a consumer's lag: the most it was behind during that minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LagPoint {
    /// Start of the minute.
    pub minute: DateTime<Utc>,
    /// Most events behind.
    pub events: i64,
    /// Oldest unapplied event's greatest age, in seconds.
    pub seconds: f64,
}

/// A count under one name (an event type, a stream type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NamedCount {
    pub name: String,
    pub count: i64,
}

/// Events appended in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinuteCount {
    pub minute: DateTime<Utc>,
    pub count: i64,
}

/// The log's statistics: counts per event type and stream type (whole log, most first) and
/// events appended per minute over the last hour (oldest first, every minute present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventStats {
    /// The position the counts include.
    pub position: i64,
    pub total: i64,
    pub by_event_type: Vec<NamedCount>,
    pub by_stream_type: Vec<NamedCount>,
    pub per_minute: Vec<MinuteCount>,
}

/// A page of the event browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventSearchPage {
    pub events: Vec<EventView>,
    /// Pass back as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// How a dead letter was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterResolution {
    Retried,
    Skipped,
}

/// An event a projection halted on, with its payload and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetterView {
    pub id: i64,
    pub projection: String,
    pub generation: i64,
    pub event_id: Uuid,
    pub position: i64,
    pub event_type: String,
    /// The event's stream (absent if the event is no longer readable).
    pub stream_id: Option<String>,
    /// The event's payload as stored.
    pub data: Option<serde_json::Value>,
    pub error: String,
    pub attempts: i64,
    pub failed_at: DateTime<Utc>,
    /// Absent while open.
    pub resolution: Option<DeadLetterResolution>,
    pub reason: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A page of dead letters, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetterPage {
    pub dead_letters: Vec<DeadLetterView>,
    /// Pass back as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// One command of a correlation: the events it appended, and the commands its events caused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandNode {
    /// The command's id (its events' causation id).
    pub command_id: Uuid,
    /// The command's name (e.g. `ConfirmOrder`), when its events recorded it.
    pub command: Option<String>,
    /// What caused the command (an event or command id), when it was given.
    pub caused_by: Option<Uuid>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// Time of its first event.
    pub at: DateTime<Utc>,
    pub events: Vec<EventNode>,
}

/// One event of a correlation and the commands it caused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventNode {
    pub event: EventView,
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub caused: Vec<CommandNode>,
}

/// Everything one correlation id (one user action and what followed from it) caused, as a tree
/// by causation: root commands (caused by nothing in this correlation), their events, the
/// commands those events caused, and so on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorrelationTree {
    pub correlation_id: Uuid,
    pub commands: Vec<CommandNode>,
    /// Events in the correlation.
    pub event_count: usize,
    /// Levels of the tree (a command and its events are one level).
    pub depth: usize,
    /// True when the correlation has more events than one tree shows.
    pub truncated: bool,
}
