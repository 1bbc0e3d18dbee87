//! The projection runner: one task per projection.
//!
//! Each task loops: apply one batch of the live generation (read from its checkpoint, applied
//! and checkpointed in ONE transaction), then, while a rebuild runs, one batch of the rebuild
//! generation; when neither has anything to read it waits for the store's head watch (fed by
//! LISTEN/NOTIFY on PostgreSQL), an operator command or shutdown. Interleaving in one task keeps
//! the live generation current during a rebuild without two writers per projection.
//!
//! A failing event: the events before it in the batch are committed, then it is retried alone
//! with exponential backoff; after `max_attempts` it goes to `projection_dead_letters` and the
//! projection halts (Faulted) until [`ProjectionRunner::retry`] or [`ProjectionRunner::skip`].
//! Storage errors (database down) are not the event's fault: retried with backoff, forever.
//!
//! Operator commands (rebuild, retry, skip) are conditional updates done by the caller, so they
//! are atomic even against other instances; the task is then woken to reload its row.
//!
//! Several instances on one PostgreSQL database: each task runs its loop only while it holds the
//! lease `projection:<name>` ([`crate::lease`]); otherwise it is on standby, follows the
//! holder's checkpoint from the database (for `wait_for`, i.e. read-your-writes on any
//! instance) and retries the lease every [`RETRY_EVERY`]. A batch moves its checkpoint with a
//! compare-and-set, so even two runners overlapping for a moment cannot apply an event twice.
//! After each committed live batch the holder sends a `pg_notify` on [`NOTICE_CHANNEL`] inside
//! the batch's transaction (a batch that changed nothing and wrote no transaction, see
//! `task/deferred.rs`, in one of its own); every other instance's runner forwards it to its own
//! [`ProjectionRunner::subscribe`] receivers (the live hub) as a [`BatchApplied`]. Operator
//! commands done on a non-holder instance reach the holder the same way (a wake notice).
//!
//! # Layout
//!
//! - `handle.rs`: [`ProjectionRunner`], the handle: start, status, `wait_for`, subscribe,
//!   shutdown; `operator.rs`: its operator commands (rebuild, retry, skip);
//!   `dead_letters.rs`: the dead-letter history.
//! - `config.rs`, `error.rs`: [`RunnerConfig`], [`RunnerError`].
//! - `shared.rs`: what a task and the handle share about one projection (status, checkpoint
//!   watch, wake-ups); `persisted.rs`: a projection's state as the database holds it.
//! - `task/`: one projection's task (lease, standby, the loop); `task/batch.rs`: one batch;
//!   `task/deferred.rs`: the checkpoint of batches that change nothing.
//! - `notices.rs`: the cross-instance notices; `listener.rs`: their LISTEN side.
//!
//! [`RETRY_EVERY`]: crate::lease::RETRY_EVERY
//! [`NOTICE_CHANNEL`]: super::NOTICE_CHANNEL
//! [`BatchApplied`]: super::BatchApplied

mod config;
mod dead_letters;
mod error;
mod handle;
mod listener;
mod notices;
mod operator;
mod persisted;
mod shared;
mod task;

pub use config::RunnerConfig;
pub use dead_letters::DeadLetter;
pub use error::RunnerError;
pub use handle::ProjectionRunner;
pub use operator::RebuildStarted;

use sqlx::{Any, AnyConnection, Connection as _, Transaction};

use crate::db::Db;

/// A write transaction (`begin immediate` on SQLite: a deferred one that later writes can fail
/// with SQLITE_BUSY).
async fn begin<'c>(
    conn: &'c mut AnyConnection,
    db: &Db,
) -> Result<Transaction<'c, Any>, sqlx::Error> {
    conn.begin_with(db.backend().dialect().begin_write).await
}

/// The transaction of a projection batch (see [`crate::sql::Dialect::begin_batch`]).
async fn begin_batch<'c>(
    conn: &'c mut AnyConnection,
    db: &Db,
) -> Result<Transaction<'c, Any>, sqlx::Error> {
    conn.begin_with(db.backend().dialect().begin_batch).await
}
