//! Eventide's event-sourcing engine. It knows nothing about orders: envelopes, the `EventStore`
//! trait and its SQL implementation on SQLite and PostgreSQL (one code path, SQL per dialect),
//! snapshots, checkpoints, upcasting, subscriptions and the projection runner.
#![forbid(unsafe_code)]

pub mod envelope;
pub mod error;
pub mod store;

pub use envelope::*;
pub use error::{StoreError, StoreResult};
pub use store::EventStore;
