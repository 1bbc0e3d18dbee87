//! Eventide order management: the application layer (every use case, for REST and the UI
//! alike), the command service, projections, queries, relay, live hub.
#![forbid(unsafe_code)]

pub mod application;
pub mod audit;
pub mod command;
pub mod console;
pub mod identity;
pub mod seed;
pub mod status;

pub mod hub;
pub mod projections;
pub mod query;
pub mod relay;
