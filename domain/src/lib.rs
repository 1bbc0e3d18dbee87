//! Eventide's pure business model, shared by the server and the browser (also built for
//! wasm): value types, the Order, Customer and Product aggregates as `decide`/`evolve`
//! functions, their events with schema versions, and upcasters for older event shapes.
//!
//! Nothing here does I/O, reads a clock or draws random numbers: ids and times come in as
//! arguments, so every function is deterministic and testable.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod account;
pub mod aggregate;
pub mod console;
pub mod customer;
pub mod error;
pub mod failure;
pub mod ids;
pub mod integrity;
pub mod live;
pub mod order;
pub mod product;
pub mod requests;
pub mod stock;
pub mod testing;
pub mod upcast;
pub mod values;
pub mod views;

pub use aggregate::{Aggregate, DomainEvent, execute, parse_stream_id, replay, replay_from};
pub use error::{DomainError, ValidationError};
pub use ids::{AccountId, CustomerId, OrderId, ProductId};
