//! Live-update messages pushed over websockets, shared by server and browser.

#![allow(missing_docs)] // plain data shapes: the field names say what they hold

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::views::{OrderSummary, ProjectionStatus, RelayStatus};

/// What a client subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "topic", rename_all = "snake_case")]
pub enum Topic {
    Dashboard,
    Orders,
    Order { id: Uuid },
    Stream { id: String },
    Projections,
    Relay,
}

/// Client -> server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Subscribe to topics; `since` is the last position the client saw (resume after reconnect).
    Subscribe {
        topics: Vec<Topic>,
        since: Option<i64>,
    },
    Unsubscribe {
        topics: Vec<Topic>,
    },
    Ping,
}

/// A read model changed: which projection, up to which log position, and what changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub projection: String,
    pub position: i64,
    /// Streams touched by the batch (e.g. `order-<uuid>`).
    pub streams: Vec<String>,
    /// New summary rows when the batch was small.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<OrderSummary>,
}

/// Server -> client. Every message carries the log position it reflects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Subscribed {
        topics: Vec<Topic>,
        position: i64,
    },
    Changed {
        change: Change,
        position: i64,
    },
    Projections {
        projections: Vec<ProjectionStatus>,
        position: i64,
    },
    Relay {
        relay: RelayStatus,
        position: i64,
    },
    /// The client missed updates (too slow or resumed from too far back): refetch everything.
    Resync {
        position: i64,
    },
    Heartbeat {
        position: i64,
    },
    Pong {
        position: i64,
    },
    Error {
        message: String,
        position: i64,
    },
}
