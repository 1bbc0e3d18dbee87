//! Eventide's event-sourcing engine. It knows nothing about orders: envelopes, the `EventStore`
//! trait and its SQL implementation on SQLite and PostgreSQL (one code path, SQL per dialect),
//! snapshots, checkpoints, upcasting, subscriptions and the projection runner.
#![forbid(unsafe_code)]

/// The hash chain's format (content digest, row hash, canonical JSON).
pub mod chain;
mod chain_backfill;
mod chain_rows;
/// Checking the hash chain: the first row that was changed, inserted or removed.
pub mod chain_verify;
pub mod checkpoint;
pub mod db;
pub mod envelope;
pub mod error;
pub mod lease;
/// Metric names, buckets and help texts (the `metrics` facade).
pub mod metrics;
/// OpenTelemetry parents and links for the spans that handle events (feature `otel`).
pub mod otel_link;
/// Crypto-shredding: personal fields sealed per subject, erased by deleting the key.
pub mod personal_data;
pub mod placeholders;
pub mod projection;
mod sql;
pub mod sql_store;
pub mod store;
/// Fresh test databases for this crate's and other crates' tests (feature `testing`).
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;
/// W3C `traceparent`: the trace an event belongs to.
pub mod trace_context;
pub mod upcast;
pub mod write_turn;

pub use chain_verify::{
    Anchor, ChainHead, ChainProblem, VerifyError, VerifyProgress, VerifyRange, VerifyReport,
    chain_head, verify,
};
pub use checkpoint::{advance_checkpoint, load_checkpoint, save_checkpoint};
pub use db::{Backend, Db};
pub use envelope::*;
pub use error::{StoreError, StoreResult};
pub use sql_store::{EventCount, LogSearch, SqlEventStore, StoreOptions};
pub use store::EventStore;
pub use trace_context::TraceParent;
pub use upcast::{UpcastFn, UpcasterRegistry};
