//! Eventide order management: command service, projections, queries, relay, live hub.
#![forbid(unsafe_code)]

pub mod audit;
pub mod command;
pub mod seed;
pub mod status;

pub mod hub;
pub mod projections;
pub mod query;
pub mod relay;
