//! Shared state handed to every handler and to the Leptos server functions.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use eventstore::SqlEventStore;
use eventstore::db::Db;
use eventstore::projection::ProjectionRunner;
use orders::application::Application;
use orders::hub::LiveHub;
use orders::relay::Relay;

use crate::metrics::Metrics;
use crate::security::connections::ConnectionLimiter;
use crate::security::host::AllowedHosts;
use crate::security::rate_limit::RateLimiter;

/// Limits and switches the middleware and handlers read.
#[derive(Debug, Clone)]
pub struct Settings {
    pub allowed_origins: Vec<String>,
    /// Host headers served (DNS rebinding protection).
    pub allowed_hosts: AllowedHosts,
    pub trusted_proxies: Vec<IpAddr>,
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    pub ws_heartbeat: Duration,
    pub ws_max_message_bytes: usize,
    pub ws_queue: usize,
    /// Client messages per second and burst per websocket (0 per second: no limit).
    pub ws_messages_per_sec: u32,
    pub ws_messages_burst: u32,
    /// Period of the projections/relay status pushes on websockets.
    pub ws_status_interval: Duration,
    /// Session cookies get `Secure` (HTTPS deployments).
    pub secure_cookies: bool,
    /// Whether answers are checked against the OpenAPI document (`api::contract`).
    pub check_responses: crate::api::contract::ResponseCheck,
}

#[derive(Clone)]
pub struct AppState {
    pub db: Arc<Db>,
    pub store: SqlEventStore,
    /// Every use case (the application layer): what the REST handlers and the server
    /// functions call.
    pub app: Application,
    pub runner: ProjectionRunner,
    pub relay: Arc<Relay>,
    /// The live update hub behind the websockets.
    pub live: LiveHub,
    pub metrics: Arc<Metrics>,
    pub rate_limiter: Arc<RateLimiter>,
    /// Open websockets per client IP, capped.
    pub ws_connections: Arc<ConnectionLimiter>,
    pub settings: Arc<Settings>,
    /// Becomes `true` when the server shuts down (websockets close).
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// What the Leptos server functions use: the same services as the REST handlers.
    pub fn ui_services(&self) -> app::ssr::UiServices {
        app::ssr::UiServices {
            app: self.app.clone(),
        }
    }
}
