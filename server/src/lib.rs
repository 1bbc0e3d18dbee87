//! Eventide's HTTP host: configuration, the axum router (SSR pages, REST API, websockets),
//! security and observability. `app::Application` is what `main` and the tests start.
#![forbid(unsafe_code)]
// The Leptos view types of the app are deep; monomorphizing them here needs more than 128.
#![recursion_limit = "512"]

pub mod api;
pub mod app;
pub mod config;
pub mod health;
pub mod metrics;
pub mod router;
pub mod security;
pub mod serve;
pub mod shutdown;
pub mod state;
pub mod telemetry;
pub mod ws;
