//! The write side: the command service, the one path every use case takes to change state
//! (REST API and Leptos server functions alike).
//!
//! * [`CommandService`]: load (snapshot + later events), decide, append with the exact expected
//!   version; retries with jittered backoff, or a typed conflict when the caller passed the
//!   version it saw; idempotency keys; snapshots; cross-aggregate checks;
//! * [`CommandContext`]: command id (the events' causation id), correlation id, user id,
//!   idempotency key, expected version;
//! * [`CommandError`]: what can go wrong, with stable codes.

pub mod error;
pub mod idempotency;
pub mod loader;
pub mod metadata;
pub mod registry;
pub mod service;

pub use error::{CommandError, CommandResult};
pub use loader::{LoadStats, Loaded};
pub use metadata::CommandContext;
pub use registry::upcaster_registry;
pub use service::{CommandConfig, CommandOutcome, CommandService};
