//! The write side: the command service, the engine behind every use case of the application
//! layer (`crate::application`), which the REST API and the Leptos server functions call.
//!
//! * [`CommandService`] (`service.rs`): the handle; `engine.rs` loads (snapshot + later events),
//!   decides and appends with the exact expected version, retrying with jittered backoff, or
//!   answering a typed conflict when the caller passed the version it saw; `replay.rs` answers
//!   a used idempotency key with its first result; `locks.rs` queues the commands of one
//!   stream; `orders.rs`, `customers.rs`, `products.rs` are the typed entry points per
//!   aggregate, with their cross-aggregate checks;
//! * [`CommandContext`] (`metadata.rs`): command id (the events' causation id), correlation id,
//!   user id, idempotency key, expected version;
//! * `identity.rs`: the canonical request identity an idempotency key is compared with;
//! * [`CommandError`] (`error.rs`): what can go wrong, with stable codes.

mod accounts;
mod customers;
mod engine;
pub mod error;
pub mod idempotency;
pub mod identity;
pub mod loader;
mod locks;
pub mod metadata;
mod orders;
pub mod personal_data;
mod plan;
mod products;
pub mod registry;
mod replay;
pub mod service;
mod stock;
pub mod unique_email;

pub use accounts::NewCustomer;
pub use error::{CommandError, CommandResult};
pub use identity::RequestIdentity;
pub use loader::{LoadStats, Loaded};
pub use metadata::CommandContext;
pub use products::NewProduct;
pub use registry::upcaster_registry;
pub use service::{CommandConfig, CommandOutcome, CommandService};
