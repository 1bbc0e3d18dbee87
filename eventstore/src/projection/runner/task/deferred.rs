//! Batches a projection handles none of (a `users` projection under a stream of orders) change
//! nothing but the checkpoint. Writing that checkpoint is a whole transaction (on SQLite one
//! more turn of the single writer every append waits behind), so the live generation's
//! checkpoint moves in memory only ([`Deferred`]) and reaches the database with the next batch
//! that writes anyway, or within [`RunnerConfig::checkpoint_defer`] (the next batch commits
//! instead of deferring; an idle task flushes when the time is up), or on shutdown.
//!
//! Safe by construction: the events between the stored checkpoint and the one in memory are
//! exactly the ones that change nothing here, so a crash, a lost lease or a reload that goes
//! back to the stored checkpoint re-reads them and again writes nothing. Read-your-writes on
//! this instance follows the checkpoint in memory; on PostgreSQL the batch's notice still goes
//! out (a transaction with the `pg_notify` only), so the other instances follow it too.
//!
//! [`RunnerConfig::checkpoint_defer`]: crate::projection::RunnerConfig::checkpoint_defer

use std::sync::Arc;

use tokio::time::Instant;
use tracing::warn;

use super::Task;
use super::batch::Target;
use crate::envelope::RecordedEvent;
use crate::error::StoreResult;
use crate::projection::runner::begin_batch;
use crate::projection::sql::notify;

/// The live generation's checkpoint is ahead of the stored one by batches that handled
/// nothing. (A swap or a reload drops it: it belongs to the live generation only.)
#[derive(Clone, Copy, Debug)]
pub(super) struct Deferred {
    /// The checkpoint as stored in the database.
    pub(super) stored: i64,
    /// When the first deferred batch was seen: the stored checkpoint is written by then plus
    /// `checkpoint_defer`.
    pub(super) since: Instant,
}

impl Task {
    /// Whether this live batch may skip its transaction: it has events, the projection
    /// handles none of them, and the deferral is not due yet.
    pub(super) fn may_defer(&self, events: &[Arc<RecordedEvent>]) -> bool {
        let defer = self.config.checkpoint_defer;
        !defer.is_zero()
            && !events.is_empty()
            && !events.iter().any(|e| self.shared.projection.handles(e))
            && self.deferred.is_none_or(|d| d.since.elapsed() < defer)
    }

    /// The live batch `events` (starting after `from`) handled by nothing: moves the checkpoint
    /// in memory and tells the other instances.
    pub(super) async fn defer(
        &mut self,
        generation: i64,
        from: i64,
        events: &[Arc<RecordedEvent>],
    ) {
        self.deferred.get_or_insert(Deferred {
            stored: from,
            since: Instant::now(),
        });
        if let Some(notice) = self.notice(Target::Live, generation, events, false)
            && let Err(e) = self.send_notice(&notice).await
        {
            // Not fatal: a standby also follows the stored checkpoint once it is written.
            warn!(error = %e, "the notice of a batch that changed nothing was not sent");
        }
        self.committed(Target::Live, generation, events, false)
            .await;
    }

    /// Sends `notice` in a transaction of its own. Not a bare `pg_notify`: a notification
    /// takes a transaction id, so its commit waits for the WAL flush unless
    /// `synchronous_commit` is off, which the batch transaction sets
    /// ([`crate::sql::Dialect::begin_batch`]).
    async fn send_notice(&self, notice: &str) -> Result<(), sqlx::Error> {
        let mut conn = self.db.pool().acquire().await?;
        let mut tx = begin_batch(&mut conn, &self.db).await?;
        notify(notice).execute(&mut *tx).await?;
        tx.commit().await
    }

    /// The stored checkpoint `generation`'s batches compare-and-set against: for the live
    /// generation the deferred one, else `from` (where the task is).
    pub(super) fn stored_checkpoint(&self, generation: i64, from: i64) -> i64 {
        match self.deferred {
            Some(d) if generation == self.state.generation => d.stored,
            _ => from,
        }
    }

    /// When an idle task has to write the deferred checkpoint.
    pub(super) fn deferred_due(&self) -> Option<Instant> {
        self.deferred
            .map(|d| d.since + self.config.checkpoint_defer)
    }

    /// Writes the deferred checkpoint now (an empty batch: the checkpoint only).
    pub(super) async fn flush_deferred(&mut self) -> StoreResult<()> {
        if self.deferred.is_none() {
            return Ok(());
        }
        let generation = self.state.generation;
        match self
            .commit(generation, self.state.checkpoint, &[], false, None)
            .await?
        {
            super::batch::Commit::Done => {}
            super::batch::Commit::Fenced => {
                self.fenced(generation);
            }
            // Nothing was applied, so nothing can fail to apply.
            super::batch::Commit::Failed(_) => {}
        }
        Ok(())
    }
}
