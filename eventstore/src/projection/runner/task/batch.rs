//! One batch of a projection: applied and checkpointed in ONE transaction (fenced against other
//! instances), the poison event isolated and retried with backoff, dead-lettered after
//! `max_attempts`; after a rebuild's last batch, the swap.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt as _;
use tracing::{Instrument as _, debug, debug_span, info, warn};

use super::Task;
use crate::checkpoint::load_checkpoint;
use crate::db::{Backend, now_us};
use crate::envelope::RecordedEvent;
use crate::error::{StoreError, StoreResult};
use crate::projection::log_cache::Unreadable;
use crate::projection::runner::begin_batch;
use crate::projection::runner::notices::{encode_batch_notice, handled_streams};
use crate::projection::sql::{self, checkpoint_name};
use crate::projection::status::{BatchApplied, FaultInfo};

/// The event a generation keeps failing on.
pub(super) struct Failure {
    generation: i64,
    position: i64,
    attempts: u32,
}

/// Which generation a batch is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Live,
    Rebuild,
}

impl Target {
    /// The `target` label of the batch metrics.
    fn label(self) -> &'static str {
        match self {
            Target::Live => "live",
            Target::Rebuild => "rebuild",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Nothing to read.
    Idle,
    /// Committed something (or backed off after a failure): loop again.
    Progressed,
}

/// An event whose `apply` failed, at `index` in the batch.
pub(super) struct ApplyFailure {
    index: usize,
    error: anyhow::Error,
}

/// Outcome of one batch transaction.
pub(super) enum Commit {
    Done,
    /// The projection's `apply` failed (rolled back).
    Failed(ApplyFailure),
    /// The checkpoint was not where this task left it: another instance moved it (rolled
    /// back; the task reloads).
    Fenced,
}

impl Task {
    /// One batch of `target`. A rebuild batch that reaches the end of the log also swaps.
    pub(super) async fn step(&mut self, target: Target) -> StoreResult<Step> {
        let (generation, from) = match target {
            Target::Live => (self.state.generation, self.state.checkpoint),
            Target::Rebuild => match self.state.rebuild {
                Some(rebuild) => rebuild,
                None => return Ok(Step::Idle),
            },
        };
        let read = match target {
            Target::Live => self.log.read_live(from, self.config.batch_size).await?,
            Target::Rebuild => self.log.read_all(from, self.config.batch_size).await?,
        };
        let mut events = read.events;
        let mut refused = None;
        if let Some(unreadable) = read.unreadable {
            if self.shared.projection.handles(&unreadable.event) {
                refused = Some(unreadable);
            } else {
                // Not this projection's business: checkpointed past, never applied.
                events.push(Arc::new(unreadable.event));
            }
        }
        let swap = target == Target::Rebuild
            && refused.is_none()
            && events.len() < self.config.batch_size as usize;
        if events.is_empty() && !swap && refused.is_none() {
            return Ok(Step::Idle);
        }
        let span = debug_span!(
            "projection_batch",
            projection = self.shared.name,
            generation,
            from,
            count = events.len(),
            trace_ids = tracing::field::Empty,
        );
        if !span.is_disabled() {
            // The traces this batch continues (the commands' `traceparent`), a few at most.
            let parents: Vec<_> = events
                .iter()
                .filter_map(|e| e.metadata.trace_parent())
                .collect();
            let mut traces: Vec<String> = Vec::new();
            for trace in &parents {
                let id = trace.trace_id_hex();
                if traces.len() < 8 && !traces.contains(&id) {
                    traces.push(id);
                }
            }
            span.record("trace_ids", traces.join(",").as_str());
            // Exported to OpenTelemetry: a link to each trace the batch continues.
            crate::otel_link::link_traces(&span, parents.iter());
        }
        let started = std::time::Instant::now();
        let step = self
            .apply_batch(target, generation, from, &events, swap, refused)
            .instrument(span)
            .await;
        if !events.is_empty() {
            let labels = [("projection", self.shared.name), ("target", target.label())];
            ::metrics::histogram!(crate::metrics::PROJECTION_BATCH_EVENTS, &labels)
                .record(events.len() as f64);
            ::metrics::histogram!(crate::metrics::PROJECTION_BATCH_DURATION, &labels)
                .record(started.elapsed());
        }
        step
    }

    /// Commits `events` (and the swap); then, if the event after them cannot be read
    /// (`refused`), counts a failed attempt on it.
    async fn apply_batch(
        &mut self,
        target: Target,
        generation: i64,
        from: i64,
        events: &[Arc<RecordedEvent>],
        swap: bool,
        refused: Option<Unreadable>,
    ) -> StoreResult<Step> {
        if target == Target::Live && refused.is_none() && self.may_defer(events) {
            self.defer(generation, from, events).await;
            return Ok(Step::Progressed);
        }
        if !events.is_empty() || swap {
            let notice = self.notice(target, generation, events, swap);
            match self
                .commit(generation, from, events, swap, notice.as_deref())
                .await?
            {
                Commit::Done => self.committed(target, generation, events, swap).await,
                Commit::Fenced => return Ok(self.fenced(generation)),
                Commit::Failed(failed) => {
                    return self.isolate(target, generation, from, events, failed).await;
                }
            }
        }
        match refused {
            Some(Unreadable { event, error }) => {
                let error = format!(
                    "event {} at position {} cannot be read: {error}",
                    event.event_id, event.position
                );
                self.failed_attempt(generation, &event, error).await
            }
            None => Ok(Step::Progressed),
        }
    }

    /// The batch failed at `failed.index`: commits the events before it, then counts a failed
    /// attempt on it.
    async fn isolate(
        &mut self,
        target: Target,
        generation: i64,
        from: i64,
        events: &[Arc<RecordedEvent>],
        failed: ApplyFailure,
    ) -> StoreResult<Step> {
        let Some(event) = events.get(failed.index) else {
            return Ok(Step::Progressed);
        };
        if failed.index > 0 {
            // Keep what precedes the poison event; it is retried alone from there.
            let before = &events[..failed.index];
            let notice = self.notice(target, generation, before, false);
            match self
                .commit(generation, from, before, false, notice.as_deref())
                .await?
            {
                Commit::Done => self.committed(target, generation, before, false).await,
                Commit::Fenced => return Ok(self.fenced(generation)),
                Commit::Failed(_) => {}
            }
        }
        self.failed_attempt(generation, event, format!("{:#}", failed.error))
            .await
    }

    /// `event` failed (apply error, panic, unreadable). Counted as an attempt only when the
    /// stored checkpoint is still right before it: a batch re-applied after an unknown commit
    /// outcome or an overlap with another runner fails on what is already applied (a unique
    /// key), which is progress made elsewhere, not a poison event. After `max_attempts` on the
    /// same event, the dead letter.
    async fn failed_attempt(
        &mut self,
        generation: i64,
        event: &RecordedEvent,
        error: String,
    ) -> StoreResult<Step> {
        // The attempt counts against the stored checkpoint: write a deferred one first.
        self.flush_deferred().await?;
        if self.stale {
            return Ok(Step::Progressed);
        }
        let stored = {
            let mut conn = self.db.pool().acquire().await?;
            load_checkpoint(&mut conn, &checkpoint_name(self.shared.name, generation)).await?
        };
        if stored != event.position - 1 {
            debug!(
                stored,
                position = event.position,
                error = %error,
                "apply failed, but the checkpoint moved meanwhile: not counted"
            );
            return Ok(self.fenced(generation));
        }
        let attempts = match &self.failure {
            Some(f) if f.generation == generation && f.position == event.position => {
                f.attempts.saturating_add(1)
            }
            _ => 1,
        };
        warn!(
            position = event.position,
            event_id = %event.event_id,
            event_type = %event.event_type,
            attempts,
            error = %error,
            "projection failed to apply an event"
        );
        self.shared.status().last_error = Some(error.clone());
        if attempts >= self.config.max_attempts {
            self.fault(generation, event, &error, attempts).await?;
        } else {
            self.failure = Some(Failure {
                generation,
                position: event.position,
                attempts,
            });
            let delay = self.config.backoff(attempts);
            self.pause(delay).await;
        }
        Ok(Step::Progressed)
    }

    /// Another instance moved the checkpoint under this task: reload and go on from there.
    pub(super) fn fenced(&mut self, generation: i64) -> Step {
        warn!(
            generation,
            "checkpoint moved by another instance; batch rolled back, reloading"
        );
        self.stale = true;
        Step::Progressed
    }

    /// The cross-instance notice of a batch about to commit (PostgreSQL only): live batches and
    /// the swap.
    pub(super) fn notice(
        &self,
        target: Target,
        generation: i64,
        events: &[Arc<RecordedEvent>],
        swap: bool,
    ) -> Option<String> {
        if self.db.backend() != Backend::Postgres {
            return None;
        }
        let projection = self.shared.name.to_owned();
        let batch = match target {
            Target::Live => BatchApplied {
                projection,
                generation,
                first_position: events.first()?.position,
                last_position: events.last()?.position,
                streams: handled_streams(
                    self.shared.projection.as_ref(),
                    events.iter().map(|e| &**e),
                ),
                event_count: events.len(),
                swapped: false,
            },
            Target::Rebuild if swap => BatchApplied {
                projection,
                generation,
                first_position: 1,
                last_position: self
                    .state
                    .rebuild
                    .map_or(0, |(_, c)| c)
                    .max(events.last().map_or(0, |e| e.position)),
                streams: Vec::new(),
                event_count: 0,
                swapped: true,
            },
            Target::Rebuild => return None,
        };
        encode_batch_notice(&self.config.instance, batch)
    }

    /// Applies `events` to `generation` and moves its checkpoint from `from` in ONE
    /// transaction (fenced: only if it is still at `from`); with `swap`, also makes
    /// `generation` the live one; with `notice`, notifies the other instances on commit. The
    /// error is storage; the projection's failure is [`Commit::Failed`] (rolled back).
    pub(super) async fn commit(
        &mut self,
        generation: i64,
        from: i64,
        events: &[Arc<RecordedEvent>],
        swap: bool,
        notice: Option<&str>,
    ) -> StoreResult<Commit> {
        // Held until this function returns (after commit or rollback). Taken before the
        // connection: on SQLite six projections queue here under load, and a connection held
        // while queuing is one the requests' reads cannot have (the pool is shared).
        let _turn = self.db.write_turn().await;
        let mut conn = self.db.pool().acquire().await?;
        let mut tx = begin_batch(&mut conn, &self.db).await?;
        let projection = &self.shared.projection;
        let handled: Vec<&RecordedEvent> = events
            .iter()
            .map(|e| &**e)
            .filter(|e| projection.handles(e))
            .collect();
        if let Err(error) = unwinding(projection.apply_batch(&mut tx, generation, &handled)).await {
            tx.rollback().await?;
            if let Some(transient) = self.transient(&error) {
                return Err(transient);
            }
            debug!(error = %format!("{error:#}"), "batch apply failed; applying event by event");
            // Event by event, to find the failing one (or to write the batch after all).
            tx = begin_batch(&mut conn, &self.db).await?;
            for (index, event) in events.iter().enumerate() {
                if !projection.handles(event) {
                    continue;
                }
                let span = debug_span!(
                    "projection_apply",
                    position = event.position,
                    trace_id = event.metadata.trace_id(),
                );
                crate::otel_link::continue_trace(&span, event.metadata.trace_parent().as_ref());
                let applied = unwinding(projection.apply(&mut tx, generation, event))
                    .instrument(span)
                    .await;
                if let Err(error) = applied {
                    tx.rollback().await?;
                    if let Some(transient) = self.transient(&error) {
                        return Err(transient);
                    }
                    return Ok(Commit::Failed(ApplyFailure { index, error }));
                }
            }
        }
        let to = events.last().map_or(from, |e| e.position);
        // Behind `from` when the batches before this one changed nothing (`deferred.rs`).
        let stored = self.stored_checkpoint(generation, from);
        let name = self.shared.name;
        let checkpoint = checkpoint_name(name, generation);
        let now = now_us();
        let mut moved = sqlx::query(sql::ADVANCE_CHECKPOINT)
            .bind(&checkpoint)
            .bind(stored)
            .bind(to)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 && stored == 0 {
            moved = sqlx::query(sql::INSERT_CHECKPOINT)
                .bind(&checkpoint)
                .bind(to)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if moved == 0 {
            tx.rollback().await?;
            return Ok(Commit::Fenced);
        }
        if swap {
            sqlx::query(sql::SWAP_GENERATION)
                .bind(generation)
                .bind(now_us())
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(payload) = notice {
            sql::notify(payload).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if generation == self.state.generation {
            self.deferred = None;
        }
        Ok(Commit::Done)
    }

    /// A database hiccup (busy, deadlock, lost connection, full disk) is not the event's fault:
    /// it is retried as storage, forever, instead of dead-lettering the event.
    fn transient(&self, error: &anyhow::Error) -> Option<StoreError> {
        let db_error = error
            .chain()
            .find_map(|e| e.downcast_ref::<sqlx::Error>())
            .filter(|e| crate::error::is_transient(e))?;
        Some(StoreError::Storage(sqlx::Error::Protocol(format!(
            "{} failed on a transient database error: {db_error}",
            self.shared.name
        ))))
    }

    /// Bookkeeping after a commit: checkpoint, rates, notifications; after a swap, drops the old
    /// generation.
    pub(super) async fn committed(
        &mut self,
        target: Target,
        generation: i64,
        events: &[Arc<RecordedEvent>],
        swap: bool,
    ) {
        let count = events.len();
        if let (Some(f), Some(last)) = (&self.failure, events.last())
            && f.generation == generation
            && f.position <= last.position
        {
            self.failure = None;
        }
        match target {
            Target::Live => {
                let (Some(first), Some(last)) = (events.first(), events.last()) else {
                    return;
                };
                self.state.checkpoint = last.position;
                {
                    let mut s = self.shared.status();
                    s.checkpoint = last.position;
                    s.rate.record(count as u64);
                }
                self.shared.publish_checkpoint(last.position);
                let delay = (chrono::Utc::now() - first.recorded_at)
                    .to_std()
                    .unwrap_or_default();
                let projection = [("projection", self.shared.name)];
                ::metrics::histogram!(crate::metrics::PROJECTION_DELAY, &projection).record(delay);
                let streams =
                    handled_streams(self.shared.projection.as_ref(), events.iter().map(|e| &**e));
                // No receivers is fine.
                let _ = self.notify.send(BatchApplied {
                    projection: self.shared.name.to_owned(),
                    generation,
                    first_position: first.position,
                    last_position: last.position,
                    streams,
                    event_count: count,
                    swapped: false,
                });
            }
            Target::Rebuild => {
                let checkpoint = self
                    .state
                    .rebuild
                    .map_or(0, |(_, c)| c)
                    .max(events.last().map_or(0, |e| e.position));
                if !swap {
                    self.state.rebuild = Some((generation, checkpoint));
                    let mut s = self.shared.status();
                    if let Some(r) = s.rebuild.as_mut() {
                        r.checkpoint = checkpoint;
                        r.rate.record(count as u64);
                    }
                    return;
                }
                let old = self.state.generation;
                // A checkpoint deferred for the old generation goes with it.
                self.deferred = None;
                self.state.generation = generation;
                self.state.checkpoint = checkpoint;
                self.state.rebuild = None;
                info!(old, generation, checkpoint, "rebuild swapped in");
                // Readers see the new generation already; the status reports the rebuild done
                // once the old rows are gone too. Failing here leaves rows nobody reads; the
                // next start drops them.
                let dropped = match self.db.pool().acquire().await {
                    Ok(mut conn) => self.drop_generation(&mut conn, old).await,
                    Err(e) => Err(e.into()),
                };
                {
                    let mut s = self.shared.status();
                    s.generation = generation;
                    s.checkpoint = checkpoint;
                    s.rebuild = None;
                    if let Err(e) = &dropped {
                        warn!(error = %e, generation = old, "dropping the old generation failed");
                        s.last_error = Some(e.to_string());
                    }
                }
                self.shared.publish_checkpoint(checkpoint);
                let _ = self.notify.send(BatchApplied {
                    projection: self.shared.name.to_owned(),
                    generation,
                    first_position: 1,
                    last_position: checkpoint,
                    streams: Vec::new(),
                    event_count: 0,
                    swapped: true,
                });
            }
        }
    }

    /// Records the dead letter and halts the projection.
    async fn fault(
        &mut self,
        generation: i64,
        event: &RecordedEvent,
        error: &str,
        attempts: u32,
    ) -> StoreResult<()> {
        let failed_at_us = now_us();
        let turn = self.db.write_turn().await;
        sqlx::query(sql::INSERT_DEAD_LETTER)
            .bind(self.shared.name)
            .bind(generation)
            .bind(event.event_id.to_string())
            .bind(event.position)
            .bind(&event.event_type)
            .bind(error)
            .bind(i64::from(attempts))
            .bind(failed_at_us)
            .execute(self.db.pool())
            .await?;
        drop(turn);
        warn!(
            position = event.position,
            event_id = %event.event_id,
            attempts,
            "projection faulted; waiting for retry or skip"
        );
        let fault = FaultInfo {
            generation,
            event_id: event.event_id,
            position: event.position,
            event_type: event.event_type.clone(),
            error: error.to_owned(),
            attempts: i64::from(attempts),
            failed_at: chrono::DateTime::from_timestamp_micros(failed_at_us)
                .unwrap_or_else(chrono::Utc::now),
        };
        self.shared.status().fault = Some(fault.clone());
        self.state.fault = Some((0, fault));
        self.failure = None;
        Ok(())
    }
}

/// Runs a projection's `apply` future; a panic inside it becomes its error (the event is then
/// retried and dead-lettered like any failing event) instead of killing the task.
async fn unwinding(
    apply: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    match AssertUnwindSafe(apply).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(anyhow::anyhow!(
            "panicked: {}",
            panic_message(panic.as_ref())
        )),
    }
}

/// The message of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
