//! The writer task: takes the appends off the queue, groups those waiting into one batch (see
//! the store's module docs: group commit) and answers each caller after the commit. The batch's
//! transaction is in `group_commit.rs`; what a failed append answers, in `duplicates.rs`.
//!
//! The task is supervised ([`supervise_writer`]): when it panics, the appends of the batch it
//! held answer [`StoreError::OutcomeUnknown`] (it may have died after the commit), the store
//! reports the writer down ([`crate::SqlEventStore::check_writes`], `/ready`; new appends answer
//! [`StoreError::Unavailable`]) and a new writer task takes over the same queue after a short,
//! growing pause.

mod duplicates;
mod group_commit;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::Any;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument as _, debug, error, info, info_span, warn};
use uuid::Uuid;

use self::group_commit::run_batch;
use super::head::publish_head;
use crate::db::Db;
use crate::envelope::{
    AppendCondition, AppendResult, ExpectedVersion, NewEvent, StreamAppend, StreamConflict,
};
use crate::error::{StoreError, StoreResult, is_connection_lost, is_disk_full, is_timeout};
use crate::sql;

/// Most appends one group-commit transaction takes.
pub const MAX_BATCH_APPENDS: usize = 256;
/// Once a batch holds this many events it takes no further appends (a single larger append is
/// still written whole).
pub const MAX_BATCH_EVENTS: usize = 4096;

/// One event, serialised in the caller's task.
pub(super) struct PreparedEvent {
    event_id: String,
    data: String,
    metadata: String,
    correlation_id: Option<String>,
    /// The tags as a JSON array (the `events.tags` column); `None` without tags.
    tags: Option<String>,
    /// The event as given, its tags sorted and without repeats (as they are stored).
    event: NewEvent,
    /// The hash chain's content digest ([`crate::chain::content_digest`]), computed here in the
    /// caller's task so the writer only links rows; `None` with the chain turned off.
    digest: Option<crate::chain::Hash>,
}

/// One stream's part of an append, validated and serialised in the caller's task.
pub(super) struct StreamWrite {
    pub(super) stream_id: String,
    pub(super) stream_type: String,
    pub(super) expected: ExpectedVersion,
    /// At least one.
    pub(super) events: Vec<PreparedEvent>,
}

/// One append as the writer gets it: one stream (`append`) or several (`append_multi`),
/// written all or nothing, with an optional condition. Answered with one result per stream.
pub(super) struct AppendRequest {
    /// At least one, each stream once.
    pub(super) streams: Vec<StreamWrite>,
    /// `None` also for a condition without query items (it can never fail).
    pub(super) condition: Option<AppendCondition>,
    pub(super) reply: oneshot::Sender<StoreResult<Vec<AppendResult>>>,
    pub(super) span: tracing::Span,
}

impl AppendRequest {
    pub(super) fn event_count(&self) -> usize {
        self.streams.iter().map(|s| s.events.len()).sum()
    }
}

/// Validates and serialises an append in the caller's task, so the writer only writes:
/// at least one stream, each once and with at least one event, event ids unique within the
/// append, a condition query small enough for one statement. Tags are sorted and deduplicated
/// (a tag set), which is also how a retry is compared with what is stored.
///
/// With `chain`, each event's content digest for the hash chain is computed here too.
pub(super) fn prepare(
    appends: Vec<StreamAppend>,
    condition: Option<AppendCondition>,
    chain: bool,
) -> StoreResult<(Vec<StreamWrite>, Option<AppendCondition>)> {
    if appends.is_empty() {
        return Err(StoreError::NoStreams);
    }
    let mut streams = HashSet::with_capacity(appends.len());
    for append in &appends {
        if !streams.insert(append.stream_id.as_str()) {
            return Err(StoreError::DuplicateStream {
                stream: append.stream_id.clone(),
            });
        }
        if append.events.is_empty() {
            return Err(StoreError::EmptyStreamAppend {
                stream: append.stream_id.clone(),
            });
        }
    }
    if let Some(condition) = &condition {
        sql::query::check_size(&condition.query)?;
    }
    let condition = condition.filter(|c| !c.query.items.is_empty());
    let mut seen = HashSet::new();
    let streams = appends
        .into_iter()
        .map(|append| {
            let events = append
                .events
                .into_iter()
                .map(|event| {
                    prepare_event(
                        event,
                        &append.stream_id,
                        &append.stream_type,
                        chain,
                        &mut seen,
                    )
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(StreamWrite {
                stream_id: append.stream_id,
                stream_type: append.stream_type,
                expected: append.expected,
                events,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((streams, condition))
}

fn prepare_event(
    mut event: NewEvent,
    stream_id: &str,
    stream_type: &str,
    chain: bool,
    seen: &mut HashSet<Uuid>,
) -> StoreResult<PreparedEvent> {
    if !seen.insert(event.event_id) {
        // The same id twice in one append can never be stored.
        return Err(StoreError::IdempotencyConflict {
            event_id: event.event_id,
        });
    }
    event.tags.sort_unstable();
    event.tags.dedup();
    let tags = if event.tags.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&event.tags)?)
    };
    let event_id = event.event_id.to_string();
    let digest = if chain {
        // The metadata as the JSON value that is stored (and re-parsed by verify).
        let metadata = serde_json::to_value(&event.metadata)?;
        Some(crate::chain::content_digest(&crate::chain::Content {
            event_id: &event_id,
            stream_id,
            stream_type,
            event_type: &event.event_type,
            schema_version: i64::from(event.schema_version),
            data: &event.data,
            metadata: &metadata,
            tags: &event.tags,
        }))
    } else {
        None
    };
    Ok(PreparedEvent {
        event_id,
        data: serde_json::to_string(&event.data)?,
        metadata: serde_json::to_string(&event.metadata)?,
        correlation_id: event.metadata.correlation_id.map(|id| id.to_string()),
        tags,
        event,
        digest,
    })
}

/// First pause before a writer that panicked is started again (doubled per panic in a row).
const RESTART_PAUSE_MIN: Duration = Duration::from_millis(100);
/// Longest pause between restarts.
const RESTART_PAUSE_MAX: Duration = Duration::from_secs(5);
/// A writer that ran this long before it panicked restarts after the shortest pause again.
const RESTART_PAUSE_RESET: Duration = Duration::from_secs(60);

/// Runs the writer task and starts it again when it panics, until the store shuts down (the
/// channel closes). The queue outlives a dead writer: appends already queued are written by
/// the next one. While no writer runs, [`WriteHealth::writer_down`] is set: appends answer
/// [`StoreError::Unavailable`] (503) at once and readiness says so.
pub(super) async fn supervise_writer(
    db: Db,
    receiver: mpsc::Receiver<AppendRequest>,
    head: Arc<watch::Sender<i64>>,
    health: Arc<WriteHealth>,
) {
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let mut pause = RESTART_PAUSE_MIN;
    loop {
        let queue = receiver.clone().lock_owned().await;
        let started = tokio::time::Instant::now();
        let task = tokio::spawn(writer_loop(db.clone(), queue, head.clone(), health.clone()));
        let panic = match task.await {
            // The channel closed: the store shut down.
            Ok(()) => return,
            Err(e) if e.is_panic() => panic_message(e.into_panic()),
            Err(_cancelled) => return,
        };
        health.writer_died(&panic);
        if started.elapsed() >= RESTART_PAUSE_RESET {
            pause = RESTART_PAUSE_MIN;
        }
        error!(
            panic = %panic,
            restart_in = ?pause,
            "event store writer task panicked; appends answer 503 until it is restarted"
        );
        #[cfg(feature = "testing")]
        let wait = health.hooks.restart_pause().unwrap_or(pause);
        #[cfg(not(feature = "testing"))]
        let wait = pause;
        tokio::time::sleep(wait).await;
        pause = (pause * 2).min(RESTART_PAUSE_MAX);
        let restarts = health.writer_restarted();
        info!(restarts, "event store writer task restarted");
    }
}

/// The text of a panic payload.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-text payload".to_owned())
}

async fn writer_loop(
    db: Db,
    mut receiver: tokio::sync::OwnedMutexGuard<mpsc::Receiver<AppendRequest>>,
    head: Arc<watch::Sender<i64>>,
    health: Arc<WriteHealth>,
) {
    let mut conn: Option<PoolConnection<Any>> = None;
    while let Some(first) = receiver.recv().await {
        // The callers of the previous batch were just answered and are about to send their next
        // append: let them run once so they land in this batch rather than the next.
        tokio::task::yield_now().await;
        let mut events = first.event_count();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_APPENDS && events < MAX_BATCH_EVENTS {
            match receiver.try_recv() {
                Ok(request) => {
                    events += request.event_count();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        let span = info_span!("append_batch", size = batch.len(), events);
        ::metrics::histogram!(crate::metrics::APPEND_BATCH_APPENDS).record(batch.len() as f64);
        ::metrics::histogram!(crate::metrics::APPEND_BATCH_EVENTS).record(events as f64);
        #[cfg(feature = "testing")]
        health.hooks.panic_if_armed();
        let started = Instant::now();
        write_batch(&db, &mut conn, batch, &head, &health)
            .instrument(span)
            .await;
        ::metrics::histogram!(crate::metrics::APPEND_BATCH_DURATION).record(started.elapsed());
    }
}

/// Attempts of one batch: the first, then re-runs on a fresh connection after a lost one.
const BATCH_ATTEMPTS: u32 = 3;
/// Pause before re-running a batch on a fresh connection (doubled per attempt).
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Why one attempt of a batch failed.
enum AttemptError {
    Sql(sqlx::Error),
    /// The client-side bound ([`crate::db::SessionLimits::commit_timeout`]) ran out.
    TimedOut,
}

/// Writes one batch and answers its callers.
///
/// - An append whose caller gave up (dropped its future) before the batch is sent is withdrawn;
///   the transaction checks again once it holds the log head lock (see `group_commit.rs`).
/// - A lost connection (terminated backend, restarted server, proxy idle timeout) fails the
///   attempt; the batch runs again on a fresh connection. Before the commit was sent nothing
///   can have been written. After it was sent the outcome is unknown, and running the batch
///   again is how it is found out: the re-run waits for the log head lock (so for the old
///   transaction to end either way), and an append that did commit fails its version check or
///   the unique event id index and answers its original result (idempotency), one that did not
///   is written now.
/// - A lock, statement or client-side timeout answers [`StoreError::Unavailable`] (nothing was
///   written) at once; after a sent commit, [`StoreError::OutcomeUnknown`] when the re-runs
///   cannot tell. A caller never gets an error for an append that committed.
async fn write_batch(
    db: &Db,
    conn: &mut Option<PoolConnection<Any>>,
    mut batch: Vec<AppendRequest>,
    head: &watch::Sender<i64>,
    health: &WriteHealth,
) {
    let dialect = db.backend().dialect();
    let commit_timeout = db.session_limits().commit_timeout();
    let acquire_timeout = db.session_limits().lock_timeout + Duration::from_secs(1);
    // Some attempt sent its commit and never learnt the outcome.
    let mut unknown = false;
    let mut last_error = AttemptError::TimedOut;
    for attempt in 1..=BATCH_ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(RETRY_PAUSE * 2_u32.pow(attempt - 2)).await;
        }
        let before = batch.len();
        batch.retain(|request| !request.reply.is_closed());
        if batch.len() < before {
            debug!(
                withdrawn = before - batch.len(),
                "appends withdrawn: their callers gave up"
            );
        }
        if batch.is_empty() {
            return;
        }
        let mut c = match conn.take() {
            Some(c) => c,
            // A write waits for a connection no longer than for the log head lock (the pool's
            // own acquire timeout is much longer, for reads).
            None => match tokio::time::timeout(acquire_timeout, db.pool().acquire()).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    warn!(error = %e, attempt, "event store writer cannot get a connection");
                    last_error = AttemptError::Sql(e);
                    continue;
                }
                Err(_) => {
                    warn!(attempt, "event store writer got no connection in time");
                    last_error = AttemptError::Sql(sqlx::Error::PoolTimedOut);
                    continue;
                }
            },
        };
        let commit_sent = AtomicBool::new(false);
        let turn = db.append_turn().await;
        let result = tokio::time::timeout(
            commit_timeout,
            run_batch(&mut c, dialect, &batch, &commit_sent),
        )
        .await;
        drop(turn);
        let error = match result {
            Ok(Ok((outcomes, _new_head))) => {
                *conn = Some(c);
                health.set_ok();
                // Appends answered with their original result (a re-run) count too: the head
                // only moves forward.
                if let Some(position) = outcomes
                    .iter()
                    .filter_map(|o| o.as_ref().ok())
                    .flatten()
                    .map(|r| r.last_position)
                    .max()
                {
                    publish_head(head, position);
                }
                if unknown {
                    info!("group commit outcome resolved on a fresh connection");
                }
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
                return;
            }
            Ok(Err(e)) => AttemptError::Sql(e),
            Err(_elapsed) => AttemptError::TimedOut,
        };
        // The connection may be broken or mid-statement: never reuse it.
        c.close_on_drop();
        drop(c);
        let sent = commit_sent.load(Ordering::SeqCst);
        // A commit that answered with an error (a full disk, say) is known to have failed; only
        // a lost connection or a timeout after it was sent leaves the outcome open.
        let open = match &error {
            AttemptError::TimedOut => true,
            AttemptError::Sql(e) => is_connection_lost(e),
        };
        unknown |= sent && open;
        match &error {
            AttemptError::Sql(e) if is_connection_lost(e) => {
                warn!(error = %e, attempt, commit_sent = sent, "group commit lost its connection; running the batch again on a fresh one");
            }
            // After a sent commit, a timeout does not say whether it committed: find out.
            AttemptError::TimedOut if sent => {
                warn!(
                    attempt,
                    "group commit timed out after sending the commit; running the batch again to find out"
                );
            }
            AttemptError::Sql(e) => {
                warn!(error = %e, attempt, "group commit failed");
                last_error = error;
                break;
            }
            AttemptError::TimedOut => {
                warn!(timeout = ?commit_timeout, "group commit timed out");
                last_error = error;
                break;
            }
        }
        last_error = error;
    }
    health.set_failed();
    fail_batch(batch, &last_error, unknown);
}

/// Every append of a failed batch gets the same error: [`StoreError::OutcomeUnknown`] when a
/// commit was sent without an answer, [`StoreError::Unavailable`] for lost connections and
/// timeouts (nothing written, retry later), the storage error (a copy) otherwise.
fn fail_batch(batch: Vec<AppendRequest>, error: &AttemptError, unknown: bool) {
    for request in batch {
        let answer = match error {
            _ if unknown => StoreError::OutcomeUnknown,
            AttemptError::TimedOut => {
                StoreError::Unavailable("the group commit took longer than its bound".into())
            }
            AttemptError::Sql(e) if is_disk_full(e) => StoreError::StorageFull(e.to_string()),
            AttemptError::Sql(e) if is_connection_lost(e) || is_timeout(e) => {
                StoreError::Unavailable(e.to_string())
            }
            AttemptError::Sql(e) => StoreError::Storage(copy_error(e)),
        };
        let _ = request.reply.send(Err(answer));
    }
}

/// Whether the writer can commit: set by every batch, read by [`crate::SqlEventStore::check_writes`].
#[derive(Debug, Default)]
pub(super) struct WriteHealth {
    /// The last batch failed with the database unavailable (and none succeeded since).
    failing: AtomicBool,
    /// The writer task's life: `run << 1 | down`, where `run` counts the writer's starts (0 for
    /// the first) and `down` is set from its panic until the next start.
    writer: AtomicU64,
    /// The last panic of the writer task.
    last_panic: std::sync::Mutex<Option<String>>,
    /// Fault injection for tests (feature `testing`).
    #[cfg(feature = "testing")]
    pub(super) hooks: TestHooks,
}

/// Fault injection into the writer task, compiled only with the `testing` feature.
#[cfg(feature = "testing")]
#[derive(Debug, Default)]
pub(super) struct TestHooks {
    /// The next this many batches panic in the writer task before their transaction starts.
    panics: std::sync::atomic::AtomicU32,
    /// Pause before each restart instead of the growing one, in milliseconds (0: not set).
    restart_pause_ms: AtomicU64,
}

#[cfg(feature = "testing")]
impl TestHooks {
    pub(super) fn arm_panics(&self, batches: u32) {
        self.panics.store(batches, Ordering::SeqCst);
    }

    pub(super) fn set_restart_pause(&self, pause: Duration) {
        let ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX);
        self.restart_pause_ms.store(ms, Ordering::SeqCst);
    }

    fn restart_pause(&self) -> Option<Duration> {
        match self.restart_pause_ms.load(Ordering::SeqCst) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    fn panic_if_armed(&self) {
        let armed = self
            .panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            panic!("injected writer panic (test hook)");
        }
    }
}

impl WriteHealth {
    pub(super) fn set_ok(&self) {
        self.failing.store(false, Ordering::SeqCst);
    }

    pub(super) fn set_failed(&self) {
        self.failing.store(true, Ordering::SeqCst);
    }

    pub(super) fn failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }

    /// The writer's life as an append sees it before queueing (for [`Self::reply_lost`]).
    pub(super) fn writer_run(&self) -> u64 {
        self.writer.load(Ordering::SeqCst)
    }

    /// No writer task runs (it panicked and is not yet restarted).
    pub(super) fn writer_down(&self) -> bool {
        self.writer.load(Ordering::SeqCst) & 1 == 1
    }

    /// An append queued during writer run `run` lost its reply: the writer died with it. Marks
    /// the writer down at once (the supervisor learns it a moment later), unless it has been
    /// restarted since.
    pub(super) fn reply_lost(&self, run: u64) {
        let _ = self
            .writer
            .compare_exchange(run & !1, run | 1, Ordering::SeqCst, Ordering::SeqCst);
    }

    fn writer_died(&self, panic: &str) {
        self.writer.fetch_or(1, Ordering::SeqCst);
        *self
            .last_panic
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(panic.to_owned());
    }

    /// A new writer task starts; returns how many restarts there have been.
    fn writer_restarted(&self) -> u64 {
        let state = self.writer.load(Ordering::SeqCst);
        let restarts = (state >> 1) + 1;
        self.writer.store(restarts << 1, Ordering::SeqCst);
        restarts
    }

    pub(super) fn writer_status(&self) -> WriterStatus {
        let state = self.writer.load(Ordering::SeqCst);
        WriterStatus {
            running: state & 1 == 0,
            restarts: state >> 1,
            last_panic: self
                .last_panic
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}

/// The group-commit writer task as operators see it ([`crate::SqlEventStore::writer_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterStatus {
    /// A writer task runs (false from its panic until it is restarted).
    pub running: bool,
    /// How often the writer task was restarted after a panic since the store opened.
    pub restarts: u64,
    /// The message of its last panic.
    pub last_panic: Option<String>,
}

/// `sqlx::Error` is not `Clone`: keep the I/O kind when there is one, the message otherwise.
fn copy_error(error: &sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::Io(e) => sqlx::Error::Io(std::io::Error::new(e.kind(), e.to_string())),
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        other => sqlx::Error::AnyDriverError(format!("group commit failed: {other}").into()),
    }
}

enum Outcome {
    /// Written now: one result per stream.
    Written(Vec<AppendResult>),
    /// Already stored by an earlier append with the same ids and content: nothing written.
    Duplicate(Vec<AppendResult>),
}

impl Outcome {
    fn into_results(self) -> Vec<AppendResult> {
        match self {
            Outcome::Written(r) | Outcome::Duplicate(r) => r,
        }
    }
}

enum Failure {
    Store(StoreError),
    /// An expected version does not hold; unless the append is a retry (resolved after
    /// rolling back), this is the answer.
    Version(StoreError),
    /// The append's condition failed; unless the append is a retry (whose own events match
    /// the condition now), this is the answer.
    Condition(StoreError),
    /// A unique index refused the insert; resolved after rolling back to the savepoint.
    Unique(sqlx::Error),
    /// A statement failed (kept raw: a lost connection or a timeout fails the whole batch).
    Sql(sqlx::Error),
    /// The caller gave up (dropped its future) before anything of the append was written: it
    /// is rolled back and nobody hears about it.
    Withdrawn,
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// The streams of `request` whose expected version does not hold against `version` (the
/// current version of a stream, 0 when it does not exist); `Ok` when every one holds.
fn check_expected(
    request: &AppendRequest,
    mut version: impl FnMut(&str) -> i64,
) -> Result<(), StoreError> {
    let conflicts: Vec<StreamConflict> = request
        .streams
        .iter()
        .filter_map(|stream| {
            let actual = version(&stream.stream_id);
            let ok = match stream.expected {
                ExpectedVersion::Any => true,
                ExpectedVersion::NoStream => actual == 0,
                ExpectedVersion::StreamExists => actual > 0,
                ExpectedVersion::Exact(version) => actual == version,
            };
            (!ok).then(|| StreamConflict {
                stream: stream.stream_id.clone(),
                expected: stream.expected,
                actual,
            })
        })
        .collect();
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(StoreError::WrongExpectedVersions { conflicts })
    }
}
