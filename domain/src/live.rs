//! Live-update messages pushed over websockets, shared by server and browser.
//!
//! The contract is typed: a [`Change`] names its read model with a [`ProjectionName`], a client
//! subscribes to [`Topic`]s, and [`Topic::covers`] — used by the server to filter what it sends
//! and by the browser to decide which page refetches — says which changes a topic receives.

#![allow(missing_docs)] // plain data shapes: the field names say what they hold

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{OrderId, StreamId};
use crate::views::{ProjectionStatus, RelayStatus};

/// The read models (projections) of the platform. [`name`](Self::name) is the projection's name
/// everywhere: its checkpoint key, `projections.name`, and (as JSON) `Change.projection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionName {
    /// Order summaries and details.
    Orders,
    /// The customer list.
    Customers,
    /// The product catalog.
    Products,
    /// Dashboard statistics (orders by status, per minute, top products).
    Dashboard,
    /// The activity feed (one row per event of the log).
    Activity,
    /// The accounts (the admins' user list).
    Users,
}

impl ProjectionName {
    /// Every read model.
    pub const ALL: [Self; 6] = [
        Self::Orders,
        Self::Customers,
        Self::Products,
        Self::Dashboard,
        Self::Activity,
        Self::Users,
    ];

    /// The projection's name, e.g. `"orders"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Customers => "customers",
            Self::Products => "products",
            Self::Dashboard => "dashboard",
            Self::Activity => "activity",
            Self::Users => "users",
        }
    }

    /// The read model called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for ProjectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProjectionName {
    type Err = UnknownProjection;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| UnknownProjection(s.to_owned()))
    }
}

/// A name that is not one of the [`ProjectionName`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown projection {0:?}")]
pub struct UnknownProjection(pub String);

/// What a client subscribes to. Each read model has its topic; `Order` and `Stream` narrow a
/// topic to one aggregate; `Projections` and `Relay` are periodic status reports, not changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "topic", rename_all = "snake_case")]
pub enum Topic {
    /// Changes of the dashboard statistics.
    Dashboard,
    /// Changes of the activity feed.
    Activity,
    /// Changes of the order summaries/details.
    Orders,
    /// Changes of the customer list.
    Customers,
    /// Changes of the product catalog.
    Products,
    /// Changes of the accounts (admins only).
    Users,
    /// Changes of the order details of order `id`.
    Order { id: Uuid },
    /// Changes of any read model caused by events of stream `id` (e.g. `product-<uuid>`).
    Stream { id: String },
    /// Projection status, pushed periodically.
    Projections,
    /// Outbox relay status, pushed periodically.
    Relay,
    /// The log's statistics (events per type, events appended per minute), pushed periodically.
    Stats,
}

impl Topic {
    /// The topic that receives every change of `projection`.
    pub const fn of(projection: ProjectionName) -> Self {
        match projection {
            ProjectionName::Orders => Self::Orders,
            ProjectionName::Customers => Self::Customers,
            ProjectionName::Products => Self::Products,
            ProjectionName::Dashboard => Self::Dashboard,
            ProjectionName::Activity => Self::Activity,
            ProjectionName::Users => Self::Users,
        }
    }

    /// Whether a subscriber of this topic receives `change`: the server forwards exactly these
    /// (a `Stream` subscriber gets one change per log position), and a page watching the topic
    /// refetches on them.
    pub fn covers(&self, change: &Change) -> bool {
        match self {
            Self::Dashboard => change.projection == ProjectionName::Dashboard,
            Self::Activity => change.projection == ProjectionName::Activity,
            Self::Orders => change.projection == ProjectionName::Orders,
            Self::Customers => change.projection == ProjectionName::Customers,
            Self::Products => change.projection == ProjectionName::Products,
            Self::Users => change.projection == ProjectionName::Users,
            Self::Order { id } => {
                let stream = StreamId::order(OrderId::new(*id));
                change.projection == ProjectionName::Orders
                    && change.streams.iter().any(|s| stream.is(s))
            }
            Self::Stream { id } => change.streams.iter().any(|s| s == id),
            Self::Projections | Self::Relay | Self::Stats => false,
        }
    }
}

/// Where a client is in the stream of changes of one live hub: the hub's id (a server restart
/// or another instance is another hub) and the sequence number of the last change it received
/// (or of the `subscribed`/`resync` message that set its starting point). Changes are numbered
/// in the order the hub publishes them, whatever their log positions, so a reconnecting client
/// gets exactly what it missed, including changes of slower projections at lower positions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resume {
    pub hub: String,
    pub seq: u64,
}

/// Client -> server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Subscribe to topics; `since` is the last position the client saw (resume after reconnect).
    Subscribe {
        topics: Vec<Topic>,
        /// A log position (coarse: changes of slower projections at or below it published
        /// while the client was away are not sent; kept for simple API clients).
        #[serde(default)]
        since: Option<i64>,
        /// What the client last received from this server's live hub (exact: every change
        /// missed since, or a resync). Takes precedence over `since`.
        #[serde(default)]
        resume: Option<Resume>,
    },
    Unsubscribe {
        topics: Vec<Topic>,
    },
    Ping,
}

/// A read model changed: which projection, up to which log position, and which streams' events
/// changed it. A page refetches what it shows; the change carries no rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub projection: ProjectionName,
    pub position: i64,
    /// Streams touched by the batch (e.g. `order-<uuid>`).
    pub streams: Vec<String>,
}

/// Server -> client. Every message carries the log position it reflects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Subscribed {
        topics: Vec<Topic>,
        position: i64,
        /// The cursor of this connection's starting point: every later change reaches it live.
        #[serde(default)]
        resume: Resume,
    },
    Changed {
        change: Change,
        position: i64,
        /// The hub's sequence number of this change (see [`Resume`]).
        #[serde(default)]
        seq: u64,
    },
    Projections {
        projections: Vec<ProjectionStatus>,
        position: i64,
    },
    Relay {
        relay: RelayStatus,
        position: i64,
    },
    /// The log's statistics (topic `stats`).
    Stats {
        stats: crate::console::EventStats,
        position: i64,
    },
    /// The client missed updates (too slow or resumed from too far back): refetch everything.
    Resync {
        position: i64,
        /// The hub's sequence number the refetched state is at (see [`Resume`]).
        #[serde(default)]
        seq: u64,
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
