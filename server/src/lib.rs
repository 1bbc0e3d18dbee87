//! Eventide's HTTP host: configuration, the axum router (SSR pages, REST API, websockets),
//! security and observability. `app::Application` is what `main` and the tests start.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod health;
pub mod router;
pub mod shutdown;
pub mod state;
pub mod telemetry;
