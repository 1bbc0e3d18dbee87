//! One projection's task: holds the lease or stands by, loops over batches of the live and the
//! rebuild generation, waits for the head, operator commands or shutdown, backs off on storage
//! errors. One batch (apply + checkpoint in one transaction) is in `batch.rs`; the checkpoint
//! of batches that change nothing, kept in memory for a moment, in `deferred.rs`.

mod batch;
mod deferred;

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyConnection;
use tokio::sync::{broadcast, watch};
use tracing::{debug, info, warn};

pub(super) use self::batch::panic_message;
use self::batch::{Failure, Step, Target};
use self::deferred::Deferred;
use super::begin;
use super::config::RunnerConfig;
use super::persisted::Persisted;
use super::shared::{RebuildStatus, Shared};
use crate::db::{Backend, Db};
use crate::error::{StoreError, StoreResult};
use crate::lease::{self, Lease, RETRY_EVERY};
use crate::projection::Projection;
use crate::projection::log_cache::LogCache;
use crate::projection::sql::{self, checkpoint_name, checkpoint_prefix, lease_name};
use crate::projection::status::{BatchApplied, RateMeter};

/// How often a standby task re-reads the holder's checkpoint (notices usually come first).
const STANDBY_POLL: Duration = Duration::from_millis(500);
/// How often a holder waiting for work re-reads its persisted state anyway (an operator
/// command on another instance whose wake notice got lost).
const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// How often a held projection (the `hold` test hook) looks for operator commands.
const HOLD_POLL: Duration = Duration::from_millis(200);
/// Rows deleted per transaction when dropping a generation on SQLite (a few milliseconds each).
const DROP_CHUNK_ROWS: u64 = 5_000;

pub(super) struct Task {
    shared: Arc<Shared>,
    db: Db,
    /// Batches read by one task serve the others.
    log: Arc<LogCache>,
    config: Arc<RunnerConfig>,
    notify: broadcast::Sender<BatchApplied>,
    shutdown: watch::Receiver<bool>,
    wake: watch::Receiver<u64>,
    head: watch::Receiver<i64>,
    state: Persisted,
    failure: Option<Failure>,
    storage_failures: u32,
    /// Another instance moved the checkpoint: reload before the next batch.
    stale: bool,
    /// The live checkpoint moved past batches that changed nothing and is not stored yet.
    deferred: Option<Deferred>,
}

impl Task {
    /// A task for `shared`, to be spawned with [`run`](Self::run); it loads its persisted state
    /// once it holds the lease.
    pub(super) fn new(
        shared: Arc<Shared>,
        db: Db,
        log: Arc<LogCache>,
        config: Arc<RunnerConfig>,
        notify: broadcast::Sender<BatchApplied>,
        shutdown: watch::Receiver<bool>,
        head: watch::Receiver<i64>,
    ) -> Self {
        let wake = shared.wake.subscribe();
        Self {
            shared,
            db,
            log,
            config,
            notify,
            shutdown,
            wake,
            head,
            state: Persisted::default(),
            failure: None,
            storage_failures: 0,
            stale: false,
            deferred: None,
        }
    }

    pub(super) async fn run(mut self) {
        debug!("projection task started");
        let mut lease = Lease::new(
            self.db.clone(),
            lease_name(self.shared.name),
            self.config.instance.clone(),
        );
        loop {
            if !self.standby(&mut lease).await {
                break;
            }
            if self.shared.status().standby.take().is_some() {
                info!(instance = %self.config.instance, "projection lease acquired: running here");
            }
            let stopped = tokio::select! {
                () = self.leased() => true,
                reason = lease.lost() => {
                    warn!(reason = %reason, "projection lease lost: standing by");
                    false
                }
            };
            lease.release().await;
            if stopped {
                break;
            }
        }
        self.shared.status().stopped = true;
        debug!("projection task stopped");
    }

    /// Until this instance holds the lease, follows the holder's checkpoint and retries the
    /// lease every [`RETRY_EVERY`]. False on shutdown.
    async fn standby(&mut self, lease: &mut Lease) -> bool {
        let mut next_try = tokio::time::Instant::now();
        loop {
            if *self.shutdown.borrow() {
                return false;
            }
            let now = tokio::time::Instant::now();
            if now >= next_try {
                match lease.try_acquire().await {
                    Ok(true) => return true,
                    Ok(false) => {}
                    Err(e) => warn!(error = %e, "projection lease attempt failed"),
                }
                next_try = now + RETRY_EVERY;
                let holder = lease::holder(&self.db, lease.name())
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "unknown".to_owned());
                self.shared.status().standby = Some(holder);
            }
            if let Err(e) = self.follow().await {
                debug!(error = %e, "standby: cannot read the holder's progress");
            }
            let until = next_try.min(tokio::time::Instant::now() + STANDBY_POLL);
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                _ = self.shutdown.changed() => {}
            }
        }
    }

    /// Standby: shows the holder's persisted progress and feeds `wait_for`.
    async fn follow(&mut self) -> StoreResult<()> {
        let mut conn = self.db.pool().acquire().await?;
        let state = Persisted::load(&mut conn, self.shared.name).await?;
        drop(conn);
        self.show(&state);
        Ok(())
    }

    /// Runs the projection (this instance holds the lease) until shutdown.
    async fn leased(&mut self) {
        let mut reload = true;
        let mut first = true;
        self.failure = None;
        self.storage_failures = 0;
        loop {
            if *self.shutdown.borrow() {
                break;
            }
            if reload || self.stale || self.wake.has_changed().unwrap_or(false) {
                self.stale = false;
                self.wake.borrow_and_update();
                if let Err(e) = self.reload(first).await {
                    reload = true;
                    self.storage_failure(e).await;
                    continue;
                }
                reload = false;
                first = false;
            }
            // Due whether the task is idle (`wait` wakes for it) or busy with a rebuild.
            if self
                .deferred_due()
                .is_some_and(|due| due <= tokio::time::Instant::now())
                && let Err(e) = self.flush_deferred().await
            {
                self.storage_failure(e).await;
                continue;
            }
            if self.state.fault.is_some() {
                reload = self.wait().await;
                continue;
            }
            if self.config.hold.as_deref() == Some(self.shared.name) {
                self.pause(HOLD_POLL).await;
                reload = self.wake.has_changed().unwrap_or(false);
                continue;
            }
            // Mark the head seen BEFORE reading, so a commit after the read still wakes us.
            self.head.borrow_and_update();
            let live = match self.step(Target::Live).await {
                Ok(step) => step,
                Err(e) => {
                    self.storage_failure(e).await;
                    continue;
                }
            };
            let rebuild = if self.state.fault.is_none() && self.failure.is_none() {
                match self.step(Target::Rebuild).await {
                    Ok(step) => step,
                    Err(e) => {
                        self.storage_failure(e).await;
                        continue;
                    }
                }
            } else {
                Step::Progressed
            };
            self.storage_failures = 0;
            if live == Step::Idle && rebuild == Step::Idle {
                reload = self.wait().await;
            }
        }
        if let Err(e) = self.flush_deferred().await {
            // Safe to lose: the next start re-reads those events and writes nothing for them.
            debug!(error = %e, "the deferred checkpoint was not written at shutdown");
        }
    }

    /// Waits for a commit, an operator command, shutdown or the time to write a deferred
    /// checkpoint. True when a command arrived.
    async fn wait(&mut self) -> bool {
        // (A faulted task has no deferred checkpoint: the failed attempt wrote it first.)
        let due = self.deferred_due().filter(|_| self.state.fault.is_none());
        tokio::select! {
            () = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)),
                if due.is_some() => false,
            changed = self.head.changed() => {
                if changed.is_err() {
                    // The store is gone: poll instead of spinning.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                false
            }
            _ = self.wake.changed() => true,
            _ = self.shutdown.changed() => false,
            () = tokio::time::sleep(RELOAD_EVERY) => self.db.backend() == Backend::Postgres,
        }
    }

    /// Sleeps `delay` unless shutdown or a command comes first.
    async fn pause(&mut self, delay: Duration) {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = self.shutdown.changed() => {}
            _ = self.wake.changed() => {
                // Leave it for the main loop to see.
                self.wake.mark_changed();
            }
        }
    }

    /// A storage error: backs off, and re-reads the persisted state before the next attempt (a
    /// commit whose outcome is unknown may have moved the checkpoint; retrying from the old one
    /// would re-apply the batch and fail on what is already written).
    async fn storage_failure(&mut self, error: StoreError) {
        self.stale = true;
        self.storage_failures = self.storage_failures.saturating_add(1);
        warn!(error = %error, attempt = self.storage_failures, "projection storage error; retrying");
        self.shared.status().last_error = Some(error.to_string());
        let delay = self.config.backoff(self.storage_failures);
        self.pause(delay).await;
    }

    /// Re-reads the persisted state (start, after operator commands). On the first load it also
    /// drops generations left behind by a crash between a swap and the drop of the old one.
    async fn reload(&mut self, first: bool) -> StoreResult<()> {
        let name = self.shared.name;
        let mut conn = self.db.pool().acquire().await?;
        let state = Persisted::load(&mut conn, name).await?;
        if first {
            self.drop_stale_generations(&mut conn, &state).await?;
        }
        drop(conn);
        self.show(&state);
        // Back to what is stored; events past it that changed nothing are read again.
        self.deferred = None;
        if state.fault.is_none() && self.state.fault.is_some() {
            // Retried or skipped: the next failure counts from one again. (A reload for any
            // other reason keeps the count: the same event failing again is the same fault.)
            self.failure = None;
            // A retry may follow a repair of the event's row: read it again, not the copy
            // cached when it failed.
            self.log.forget();
        }
        self.state = state;
        Ok(())
    }

    /// Copies persisted state into the status and the checkpoint watch.
    fn show(&self, state: &Persisted) {
        {
            let mut s = self.shared.status();
            s.generation = state.generation;
            s.checkpoint = state.checkpoint;
            s.rebuild = match (state.rebuild, s.rebuild.take()) {
                (Some((g, c)), Some(mut r)) if r.generation == g => {
                    r.checkpoint = c;
                    Some(r)
                }
                (Some((generation, checkpoint)), _) => Some(RebuildStatus {
                    generation,
                    checkpoint,
                    rate: RateMeter::new(),
                }),
                (None, _) => None,
            };
            s.fault = state.fault.as_ref().map(|(_, f)| f.clone());
        }
        self.shared.publish_checkpoint(state.checkpoint);
    }

    async fn drop_stale_generations(
        &self,
        conn: &mut AnyConnection,
        state: &Persisted,
    ) -> StoreResult<()> {
        let name = self.shared.name;
        let prefix = checkpoint_prefix(name);
        let names: Vec<String> = sqlx::query_scalar(sql::LIST_CHECKPOINTS)
            .bind(&prefix)
            .fetch_all(&mut *conn)
            .await?;
        for checkpoint in names {
            let Some(Ok(generation)) = checkpoint.strip_prefix(&prefix).map(str::parse::<i64>)
            else {
                continue;
            };
            let keep = generation == state.generation
                || state.rebuild.is_some_and(|(g, _)| g == generation);
            if !keep {
                info!(generation, "dropping a stale generation");
                self.drop_generation(conn, generation).await?;
            }
        }
        Ok(())
    }

    /// Deletes a generation's rows and checkpoint. On SQLite the rows go first in chunks
    /// ([`drop_in_chunks`]), so dropping a large generation never holds the file lock for long.
    /// Then what is left and the checkpoint go in one transaction. No query reads the
    /// generation meanwhile: it is not the live one.
    async fn drop_generation(&self, conn: &mut AnyConnection, generation: i64) -> StoreResult<()> {
        if self.db.backend() == Backend::Sqlite {
            drop_in_chunks(&self.db, conn, self.shared.projection.as_ref(), generation).await?;
        }
        let _turn = self.db.write_turn().await;
        let mut tx = begin(conn, &self.db).await?;
        if let Err(e) = self
            .shared
            .projection
            .drop_generation(&mut tx, generation)
            .await
        {
            tx.rollback().await?;
            return Err(StoreError::Storage(sqlx::Error::Protocol(format!(
                "drop_generation({generation}) failed: {e:#}"
            ))));
        }
        sqlx::query(sql::DELETE_CHECKPOINT)
            .bind(checkpoint_name(self.shared.name, generation))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// On SQLite, deletes the rows of `generation` of `projection` in chunks of
/// [`DROP_CHUNK_ROWS`], each in its own transaction and write turn (the store's appends and the
/// other projections take theirs in between: FIFO); answers how many chunks. Only for a
/// generation nobody reads or writes (an old one after a swap, the leftovers of an abandoned
/// rebuild before the next claim).
pub(super) async fn drop_in_chunks(
    db: &Db,
    conn: &mut AnyConnection,
    projection: &dyn Projection,
    generation: i64,
) -> StoreResult<u64> {
    let mut chunks = 0_u64;
    loop {
        let turn = db.write_turn().await;
        let mut tx = begin(conn, db).await?;
        let deleted = match projection
            .drop_generation_chunk(&mut tx, generation, DROP_CHUNK_ROWS)
            .await
        {
            Ok(deleted) => deleted,
            Err(e) => {
                tx.rollback().await?;
                return Err(StoreError::Storage(sqlx::Error::Protocol(format!(
                    "drop_generation({generation}) failed: {e:#}"
                ))));
            }
        };
        tx.commit().await?;
        drop(turn);
        if deleted == 0 {
            break;
        }
        chunks += 1;
        tokio::task::yield_now().await;
    }
    if chunks > 0 {
        debug!(generation, chunks, "generation dropped in chunks");
    }
    Ok(chunks)
}
