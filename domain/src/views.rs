//! Read-model and API shapes shared by the server and the browser: what queries return, what
//! commands reply, the audit envelope and live-update messages. Plain data, serde only.

#![allow(missing_docs)] // plain data shapes: the field names say what they hold

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::order::OrderStatus;

/// One row of the order list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderSummary {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub customer_name: String,
    pub status: OrderStatus,
    pub item_count: i64,
    pub total_cents: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The order stream's version this row reflects (send it back as `If-Match`).
    pub version: i64,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderLineView {
    pub product_id: Uuid,
    pub sku: String,
    pub product_name: String,
    pub unit_price_cents: i64,
    pub quantity: i64,
    pub line_total_cents: i64,
}

/// An order with its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderDetail {
    #[serde(flatten)]
    pub summary: OrderSummary,
    pub lines: Vec<OrderLineView>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub cancel_reason: Option<String>,
}

/// A page of the order list, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Pass back as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A customer as the customers read model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerView {
    pub customer_id: Uuid,
    pub name: String,
    pub email: String,
    pub registered_at: DateTime<Utc>,
    pub version: i64,
}

/// One page of the customer list (by name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerPage {
    pub customers: Vec<CustomerView>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One page of the catalog (by SKU).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductPage {
    pub products: Vec<ProductView>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A product of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductView {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub discontinued: bool,
    /// Units on the shelf, reserved ones included.
    pub on_hand: i64,
    /// Units reserved by confirmed orders not yet shipped or cancelled.
    pub reserved: i64,
    /// Units that can still be ordered: `on_hand - reserved`.
    pub available: i64,
    pub version: i64,
}

/// Orders counted for one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCount {
    pub status: OrderStatus,
    pub count: i64,
}

/// A best-selling product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopProduct {
    pub product_id: Uuid,
    pub name: String,
    pub quantity: i64,
}

/// The dashboard statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DashboardStats {
    /// Every status, including those with zero orders, in lifecycle order.
    pub orders_by_status: Vec<StatusCount>,
    /// Sum of totals of confirmed, shipped and delivered orders.
    pub revenue_cents: i64,
    /// Revenue divided by the number of those orders (0 when none).
    pub average_order_cents: i64,
    /// Orders placed in each of the last 60 minutes, oldest first (60 values).
    pub orders_per_minute: Vec<i64>,
    /// Top 5 products by quantity on orders that are not cancelled.
    pub top_products: Vec<TopProduct>,
}

/// One line of the activity feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityEntry {
    pub position: i64,
    pub event_id: Uuid,
    pub stream_id: String,
    pub event_type: String,
    /// A readable sentence, e.g. "Order 0193… confirmed (3 items, 59.97)".
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A query answer with how fresh it is (read-your-writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fresh<T> {
    pub data: T,
    /// The read model's checkpoint when it answered.
    pub position: i64,
    /// True when the caller asked for `min_position` and the read model had not reached it in time.
    pub stale: bool,
}

/// What a successful command returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandReply {
    /// The aggregate's id.
    pub id: Uuid,
    /// The stream's version after the command.
    pub version: i64,
    /// The global log position of the last event written (pass as `min_position` to read your write).
    pub position: i64,
}

/// A stored event as the audit timeline shows it (the full envelope).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventView {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub stream_id: String,
    pub stream_type: String,
    pub version: i64,
    pub position: i64,
    pub recorded_at: DateTime<Utc>,
    pub data: serde_json::Value,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub user_id: Option<String>,
    /// The acting user's display name and role when the event was recorded (events of
    /// authenticated requests; older events have none).
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub user_role: Option<String>,
    /// The W3C `traceparent` of the request that caused it (events of traced requests).
    #[serde(default)]
    pub traceparent: Option<String>,
}

/// A stream in the audit browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamView {
    pub stream_id: String,
    pub stream_type: String,
    pub version: i64,
    pub event_count: i64,
    pub last_event_at: DateTime<Utc>,
}

/// Where a projection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProjectionState {
    Running,
    CatchingUp,
    Rebuilding,
    Faulted,
    Stopped,
    /// Another instance holds the lease and runs it (`instance` names it).
    Standby,
    /// Behind the head and no progress for longer than the stall threshold, with nothing
    /// (fault, rebuild, standby) to explain it: something holds it up (a lock, a slow query).
    Stalled,
}

/// The event a projection failed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectionFault {
    pub event_id: Uuid,
    pub position: i64,
    pub event_type: String,
    pub error: String,
    pub attempts: u32,
    pub failed_at: DateTime<Utc>,
}

/// Progress of a running rebuild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RebuildProgress {
    pub generation: i64,
    pub processed: i64,
    pub total: i64,
    pub events_per_sec: f64,
    pub eta_secs: Option<f64>,
}

/// Everything an operator sees about one projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectionStatus {
    pub name: String,
    pub state: ProjectionState,
    pub generation: i64,
    pub checkpoint: i64,
    pub head: i64,
    pub lag: i64,
    pub events_per_sec: f64,
    pub last_error: Option<String>,
    pub fault: Option<ProjectionFault>,
    pub rebuild: Option<RebuildProgress>,
    /// The instance running it.
    pub instance: String,
    /// Age in seconds of the oldest event not yet applied (0 when caught up).
    #[serde(default)]
    pub lag_seconds: f64,
    /// The last hour, one point per minute, oldest first.
    #[serde(default)]
    pub lag_trend: Vec<crate::console::LagPoint>,
}

/// Where the broker relay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RelayState {
    Connected,
    BackingOff,
    Disabled,
    /// Another instance holds the relay lease and publishes (`instance` names it).
    Standby,
    /// Stopped right before an event the store cannot read (`fault` names it): nothing after
    /// it is published until an operator retries it (after deploying a fixed upcaster) or
    /// skips it (with a reason, recorded).
    Faulted,
    /// Connected and behind, but no event acknowledged for longer than the stall threshold.
    Stalled,
}

/// The event the relay stopped on: its identity and why it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayFault {
    pub position: i64,
    pub event_id: Uuid,
    pub stream_id: String,
    pub version: i64,
    pub event_type: String,
    pub error: String,
}

/// The broker relay as an operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayStatus {
    pub state: RelayState,
    /// Human explanation, e.g. "disabled: no broker configured".
    pub detail: String,
    pub checkpoint: i64,
    pub head: i64,
    pub lag: i64,
    pub published_total: u64,
    pub last_error: Option<String>,
    pub instance: String,
    /// The event the relay is stopped on (state `faulted`).
    #[serde(default)]
    pub fault: Option<RelayFault>,
    /// Age in seconds of the oldest event not yet published (0 when caught up or disabled).
    #[serde(default)]
    pub lag_seconds: f64,
    /// The last hour, one point per minute, oldest first.
    #[serde(default)]
    pub lag_trend: Vec<crate::console::LagPoint>,
}

/// A page of the stream browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamPage {
    pub streams: Vec<StreamView>,
    /// Pass back as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// Answer of a single rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RebuildAccepted {
    pub projection: String,
    pub generation: i64,
}

// ---- identity ----

/// Who is signed in (`GET /api/auth/me`, the UI's navigation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Viewer {
    pub username: String,
    pub display_name: String,
    pub role: crate::account::Role,
    /// The customer a customer account acts for.
    pub customer_id: Option<Uuid>,
}

impl Viewer {
    /// Whether this user may do `capability` (the same policy the server applies).
    pub fn can(&self, capability: crate::account::Capability) -> bool {
        self.role.can(capability)
    }
}

/// An account in the admin's user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub account_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: crate::account::Role,
    pub customer_id: Option<Uuid>,
    pub disabled: bool,
    /// Live API tokens.
    pub tokens: i64,
    pub opened_at: DateTime<Utc>,
    pub version: i64,
}

/// One page of the user list (by username).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub users: Vec<UserView>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One of the caller's API tokens (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenCreated {
    pub id: Uuid,
    pub name: String,
    /// `Authorization: Bearer <token>`; not stored, shown once.
    pub token: String,
}
