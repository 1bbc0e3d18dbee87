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
//! the batch's transaction; every other instance's runner forwards it to its own
//! [`ProjectionRunner::subscribe`] receivers (the live hub) as a [`BatchApplied`]. Operator
//! commands done on a non-holder instance reach the holder the same way (a wake notice).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sqlx::{Any, AnyConnection, Connection as _, Row as _, Transaction};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, debug, debug_span, info, info_span, warn};
use uuid::Uuid;

use super::Projection;
use super::log_cache::LogCache;
use super::sql::{self, NOTICE_CHANNEL, checkpoint_name, checkpoint_prefix, lease_name};
use super::status::{
    BatchApplied, FaultInfo, ProjectionState, ProjectionStatusInfo, RateMeter, RebuildProgress,
};
use crate::checkpoint::{load_checkpoint, save_checkpoint};
use crate::db::{Backend, Db, now_us};
use crate::envelope::RecordedEvent;
use crate::error::{StoreError, StoreResult};
use crate::lease::{self, Lease, RETRY_EVERY};
use crate::sql_store::SqlEventStore;
use crate::store::EventStore;

/// Capacity of the [`BatchApplied`] broadcast; slow receivers get `Lagged` and should refetch.
const NOTIFY_CAPACITY: usize = 1024;
/// How often a standby task re-reads the holder's checkpoint (notices usually come first).
const STANDBY_POLL: Duration = Duration::from_millis(500);
/// Largest `pg_notify` payload sent (PostgreSQL refuses 8000 bytes and more); a batch notice
/// above it goes without its stream list, which receivers read back from the log.
const MAX_NOTICE_BYTES: usize = 7900;

/// Tuning of a [`ProjectionRunner`].
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Events per batch (one transaction each).
    pub batch_size: u32,
    /// Attempts on one event before it is dead-lettered and the projection faults.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles per attempt.
    pub backoff_base: Duration,
    /// Upper bound of the delay.
    pub backoff_cap: Duration,
    /// Names this process in status reports.
    pub instance: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "eventide".to_owned());
        Self {
            batch_size: 2000,
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(5),
            instance: format!("{host}-{}", std::process::id()),
        }
    }
}

impl RunnerConfig {
    /// Delay after the `attempt`-th failure (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2_u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_cap)
    }
}

/// Errors of the runner's operator API.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("unknown projection {0}")]
    UnknownProjection(String),
    /// A rebuild of this projection is already running (HTTP 409).
    #[error("projection {projection} is already rebuilding generation {generation}")]
    RebuildInProgress { projection: String, generation: i64 },
    #[error("projection {0} is not faulted")]
    NotFaulted(String),
    /// The projection's own code failed outside `apply` (e.g. `drop_generation`).
    #[error("projection {projection} failed: {message}")]
    Projection { projection: String, message: String },
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl From<sqlx::Error> for RunnerError {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(StoreError::Storage(e))
    }
}

/// Outcome of [`ProjectionRunner::rebuild_all`] for one projection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RebuildStarted {
    pub projection: String,
    /// The generation being built.
    pub generation: i64,
    /// True when that rebuild was already running (nothing new started).
    pub already_in_progress: bool,
}

/// Runs projections; cheap to clone. Dropping the last clone aborts the tasks (a batch in flight
/// rolls back); [`shutdown`](Self::shutdown) stops them between batches.
#[derive(Clone)]
pub struct ProjectionRunner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ProjectionRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.inner.shared.iter().map(|s| s.name).collect();
        f.debug_struct("ProjectionRunner")
            .field("projections", &names)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Arc<SqlEventStore>,
    config: Arc<RunnerConfig>,
    shared: Vec<Arc<Shared>>,
    notify: broadcast::Sender<BatchApplied>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// What the task and the API share about one projection.
struct Shared {
    projection: Arc<dyn Projection>,
    name: &'static str,
    status: Mutex<Status>,
    /// The live checkpoint, for `wait_for` (monotonic).
    checkpoint: watch::Sender<i64>,
    /// Bumped by operator commands: the task reloads its persisted state.
    wake: watch::Sender<u64>,
}

struct Status {
    generation: i64,
    checkpoint: i64,
    rebuild: Option<RebuildStatus>,
    fault: Option<FaultInfo>,
    last_error: Option<String>,
    stopped: bool,
    /// `Some(holder)` while another instance holds the lease.
    standby: Option<String>,
    rate: RateMeter,
}

struct RebuildStatus {
    generation: i64,
    checkpoint: i64,
    rate: RateMeter,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn status(&self) -> MutexGuard<'_, Status> {
        lock(&self.status)
    }

    fn publish_checkpoint(&self, position: i64) {
        self.checkpoint.send_if_modified(|current| {
            if position > *current {
                *current = position;
                true
            } else {
                false
            }
        });
    }

    fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn info(&self, head: i64, config: &RunnerConfig) -> ProjectionStatusInfo {
        let s = self.status();
        let lag = (head - s.checkpoint).max(0);
        let state = if s.stopped {
            ProjectionState::Stopped
        } else if s.standby.is_some() {
            ProjectionState::Standby
        } else if s.fault.is_some() {
            ProjectionState::Faulted
        } else if s.rebuild.is_some() {
            ProjectionState::Rebuilding
        } else if lag > i64::from(config.batch_size) {
            ProjectionState::CatchingUp
        } else {
            ProjectionState::Running
        };
        let rebuild = s.rebuild.as_ref().map(|r| {
            let total = head.max(r.checkpoint);
            let events_per_sec = r.rate.per_sec();
            RebuildProgress {
                generation: r.generation,
                processed: r.checkpoint,
                total,
                events_per_sec,
                eta_secs: (events_per_sec > 0.0)
                    .then(|| (total - r.checkpoint) as f64 / events_per_sec),
            }
        });
        ProjectionStatusInfo {
            name: self.name.to_owned(),
            state,
            generation: s.generation,
            checkpoint: s.checkpoint,
            head,
            lag,
            events_per_sec: s.rate.per_sec(),
            last_error: s.last_error.clone(),
            fault: s.fault.clone(),
            rebuild,
            instance: s.standby.clone().unwrap_or_else(|| config.instance.clone()),
        }
    }
}

impl ProjectionRunner {
    /// Creates the `projections` rows that are missing (generation 1) and starts one task per
    /// projection. Names must be unique.
    pub async fn start(
        store: Arc<SqlEventStore>,
        projections: Vec<Arc<dyn Projection>>,
        config: RunnerConfig,
    ) -> StoreResult<Self> {
        let mut names = HashSet::new();
        for p in &projections {
            if !names.insert(p.name()) {
                return Err(StoreError::Storage(sqlx::Error::Configuration(
                    format!("projection {} is registered twice", p.name()).into(),
                )));
            }
        }
        let db = store.db().clone();
        let mut shared = Vec::with_capacity(projections.len());
        for projection in projections {
            let name = projection.name();
            sqlx::query(sql::ENSURE_PROJECTION)
                .bind(name)
                .bind(now_us())
                .execute(db.pool())
                .await?;
            let mut conn = db.pool().acquire().await?;
            let persisted = Persisted::load(&mut conn, name).await?;
            drop(conn);
            shared.push(Arc::new(Shared {
                projection,
                name,
                status: Mutex::new(Status {
                    generation: persisted.generation,
                    checkpoint: persisted.checkpoint,
                    rebuild: persisted
                        .rebuild
                        .map(|(generation, checkpoint)| RebuildStatus {
                            generation,
                            checkpoint,
                            rate: RateMeter::new(),
                        }),
                    fault: persisted.fault.map(|(_, f)| f),
                    last_error: None,
                    stopped: false,
                    standby: None,
                    rate: RateMeter::new(),
                }),
                checkpoint: watch::channel(persisted.checkpoint).0,
                wake: watch::channel(0).0,
            }));
        }
        let config = Arc::new(config);
        let (notify, _) = broadcast::channel(NOTIFY_CAPACITY);
        let (shutdown, _) = watch::channel(false);
        let log = Arc::new(LogCache::new(store.clone()));
        let mut tasks: Vec<JoinHandle<()>> = shared
            .iter()
            .map(|s| {
                let task = Task {
                    shared: s.clone(),
                    db: db.clone(),
                    log: log.clone(),
                    config: config.clone(),
                    notify: notify.clone(),
                    shutdown: shutdown.subscribe(),
                    wake: s.wake.subscribe(),
                    head: store.head_watch(),
                    state: Persisted::default(),
                    failure: None,
                    storage_failures: 0,
                    stale: false,
                };
                let span = info_span!("projection", projection = s.name);
                tokio::spawn(task.run().instrument(span))
            })
            .collect();
        if db.backend() == Backend::Postgres {
            let listener = Listener {
                db: db.clone(),
                store: store.clone(),
                instance: config.instance.clone(),
                shared: shared.clone(),
                notify: notify.clone(),
                shutdown: shutdown.subscribe(),
            };
            tasks.push(tokio::spawn(
                listener.run().instrument(info_span!("projection_notices")),
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                shared,
                notify,
                shutdown,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    /// Status of every projection, in registration order.
    pub fn status(&self) -> Vec<ProjectionStatusInfo> {
        let head = *self.inner.store.head_watch().borrow();
        self.inner
            .shared
            .iter()
            .map(|s| s.info(head, &self.inner.config))
            .collect()
    }

    /// Status of one projection.
    pub fn status_of(&self, name: &str) -> Result<ProjectionStatusInfo, RunnerError> {
        let head = *self.inner.store.head_watch().borrow();
        Ok(self.find(name)?.info(head, &self.inner.config))
    }

    /// Names of the registered projections.
    pub fn names(&self) -> Vec<&'static str> {
        self.inner.shared.iter().map(|s| s.name).collect()
    }

    /// The live generation's checkpoint.
    pub fn checkpoint(&self, name: &str) -> Result<i64, RunnerError> {
        Ok(*self.find(name)?.checkpoint.borrow())
    }

    /// Read-your-writes: true once `name`'s live checkpoint reached `position` (e.g. an
    /// append's `last_position`), false if `timeout` passed first.
    pub async fn wait_for(
        &self,
        name: &str,
        position: i64,
        timeout: Duration,
    ) -> Result<bool, RunnerError> {
        let mut rx = self.find(name)?.checkpoint.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|c| *c >= position))
            .await
            .is_ok_and(|r| r.is_ok());
        // The sender lives as long as `self`, so `wait_for` cannot fail for another reason.
        Ok(reached || *rx.borrow() >= position)
    }

    /// [`wait_for`](Self::wait_for) on every projection, within one shared `timeout`.
    pub async fn wait_for_all(&self, position: i64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        for s in &self.inner.shared {
            let mut rx = s.checkpoint.subscribe();
            let reached = tokio::time::timeout_at(deadline, rx.wait_for(|c| *c >= position)).await;
            if !matches!(reached, Ok(Ok(_))) {
                return false;
            }
        }
        true
    }

    /// Notifications of committed live batches (and one per swap).
    pub fn subscribe(&self) -> broadcast::Receiver<BatchApplied> {
        self.inner.notify.subscribe()
    }

    /// Starts building generation `live + 1` from position 0 beside the live one; returns that
    /// generation. Refused with [`RunnerError::RebuildInProgress`] while one runs.
    pub async fn rebuild(&self, name: &str) -> Result<i64, RunnerError> {
        let shared = self.find(name)?;
        // Fast path without touching the database (whose write lock a running batch may hold on
        // SQLite); the conditional update below is the authority, also across instances.
        if let Some(r) = shared.status().rebuild.as_ref() {
            return Err(RunnerError::RebuildInProgress {
                projection: name.to_owned(),
                generation: r.generation,
            });
        }
        let db = self.inner.store.db();
        let mut conn = db.pool().acquire().await?;
        let mut tx = begin(&mut conn, db).await?;
        let claimed: Option<i64> = sqlx::query_scalar(sql::CLAIM_REBUILD)
            .bind(name)
            .bind(now_us())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(generation) = claimed else {
            tx.rollback().await?;
            let (_, running): (i64, Option<i64>) = sqlx::query_as(sql::LOAD_PROJECTION)
                .bind(name)
                .fetch_one(&mut *conn)
                .await?;
            return Err(RunnerError::RebuildInProgress {
                projection: name.to_owned(),
                generation: running.unwrap_or_default(),
            });
        };
        // Leftovers of an earlier, abandoned attempt at this generation.
        shared
            .projection
            .drop_generation(&mut tx, generation)
            .await
            .map_err(|e| RunnerError::Projection {
                projection: name.to_owned(),
                message: format!("{e:#}"),
            })?;
        sqlx::query(sql::DELETE_CHECKPOINT)
            .bind(checkpoint_name(name, generation))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        info!(projection = name, generation, "rebuild started");
        shared.status().rebuild = Some(RebuildStatus {
            generation,
            checkpoint: 0,
            rate: RateMeter::new(),
        });
        shared.wake();
        self.wake_holder(name).await;
        Ok(generation)
    }

    /// [`rebuild`](Self::rebuild) for every projection; those already rebuilding are reported,
    /// not restarted.
    pub async fn rebuild_all(&self) -> Result<Vec<RebuildStarted>, RunnerError> {
        let mut started = Vec::with_capacity(self.inner.shared.len());
        for s in &self.inner.shared {
            let (generation, already_in_progress) = match self.rebuild(s.name).await {
                Ok(generation) => (generation, false),
                Err(RunnerError::RebuildInProgress { generation, .. }) => (generation, true),
                Err(e) => return Err(e),
            };
            started.push(RebuildStarted {
                projection: s.name.to_owned(),
                generation,
                already_in_progress,
            });
        }
        Ok(started)
    }

    /// Clears the fault of `name` (after a fix) and lets it try the event again.
    pub async fn retry(&self, name: &str) -> Result<(), RunnerError> {
        let shared = self.find(name)?;
        let done = sqlx::query(sql::RETRY_DEAD_LETTER)
            .bind(name)
            .bind(now_us())
            .execute(self.inner.store.db().pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(RunnerError::NotFaulted(name.to_owned()));
        }
        info!(projection = name, "fault retried");
        shared.status().fault = None;
        shared.wake();
        self.wake_holder(name).await;
        Ok(())
    }

    /// Moves `name` past the event it faulted on, without applying it. `reason` and `who` are
    /// recorded with the time, in the same transaction as the checkpoint move.
    pub async fn skip(&self, name: &str, reason: &str, who: &str) -> Result<(), RunnerError> {
        let shared = self.find(name)?;
        let db = self.inner.store.db();
        let mut conn = db.pool().acquire().await?;
        let mut tx = begin(&mut conn, db).await?;
        let Some((id, fault)) = load_fault(&mut tx, name).await? else {
            tx.rollback().await?;
            return Err(RunnerError::NotFaulted(name.to_owned()));
        };
        let checkpoint = checkpoint_name(name, fault.generation);
        let current = load_checkpoint(&mut tx, &checkpoint).await?;
        save_checkpoint(&mut tx, &checkpoint, current.max(fault.position)).await?;
        sqlx::query(sql::SKIP_DEAD_LETTER)
            .bind(id)
            .bind(reason)
            .bind(who)
            .bind(now_us())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        warn!(projection = name, position = fault.position, event_id = %fault.event_id, reason, who, "event skipped");
        shared.status().fault = None;
        shared.wake();
        self.wake_holder(name).await;
        Ok(())
    }

    /// Tells the lease holder of `name` on another instance to reload its state (after an
    /// operator command done here). Best effort: the holder also reloads on its own schedule.
    async fn wake_holder(&self, name: &str) {
        let db = self.inner.store.db();
        if db.backend() != Backend::Postgres {
            return;
        }
        let notice = Notice::Wake {
            instance: self.inner.config.instance.clone(),
            projection: name.to_owned(),
        };
        let Ok(payload) = serde_json::to_string(&notice) else {
            return;
        };
        if let Err(e) = sqlx::query("select pg_notify($1, $2)")
            .bind(NOTICE_CHANNEL)
            .bind(payload)
            .execute(db.pool())
            .await
        {
            warn!(error = %e, projection = name, "cannot notify the lease holder");
        }
    }

    /// Stops every task after its current batch and waits for them. Idempotent.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        let tasks: Vec<_> = lock(&self.inner.tasks).drain(..).collect();
        for task in tasks {
            if let Err(e) = task.await {
                warn!(error = %e, "projection task failed");
            }
        }
    }

    fn find(&self, name: &str) -> Result<&Arc<Shared>, RunnerError> {
        self.inner
            .shared
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| RunnerError::UnknownProjection(name.to_owned()))
    }
}

/// A write transaction (`begin immediate` on SQLite: a deferred one that later writes can fail
/// with SQLITE_BUSY).
async fn begin<'c>(
    conn: &'c mut AnyConnection,
    db: &Db,
) -> Result<Transaction<'c, Any>, sqlx::Error> {
    conn.begin_with(db.backend().dialect().begin_write).await
}

/// The open dead letter of `projection`: (row id, fault).
async fn load_fault(
    conn: &mut AnyConnection,
    projection: &str,
) -> StoreResult<Option<(i64, FaultInfo)>> {
    let Some(row) = sqlx::query(sql::OPEN_DEAD_LETTER)
        .bind(projection)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let event_id: String = row.try_get(2)?;
    let failed_at_us: i64 = row.try_get(7)?;
    let decode = |msg: String| StoreError::Storage(sqlx::Error::Decode(msg.into()));
    Ok(Some((
        row.try_get(0)?,
        FaultInfo {
            generation: row.try_get(1)?,
            event_id: Uuid::parse_str(&event_id).map_err(|e| decode(e.to_string()))?,
            position: row.try_get(3)?,
            event_type: row.try_get(4)?,
            error: row.try_get(5)?,
            attempts: row.try_get(6)?,
            failed_at: chrono::DateTime::from_timestamp_micros(failed_at_us)
                .ok_or_else(|| decode(format!("timestamp out of range: {failed_at_us}")))?,
        },
    )))
}

/// A projection's persisted state.
#[derive(Default)]
struct Persisted {
    generation: i64,
    checkpoint: i64,
    /// (generation, checkpoint) of the rebuild in progress.
    rebuild: Option<(i64, i64)>,
    fault: Option<(i64, FaultInfo)>,
}

impl Persisted {
    async fn load(conn: &mut AnyConnection, name: &str) -> StoreResult<Self> {
        let (generation, rebuild): (i64, Option<i64>) = sqlx::query_as(sql::LOAD_PROJECTION)
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
        let checkpoint = load_checkpoint(conn, &checkpoint_name(name, generation)).await?;
        let rebuild = match rebuild {
            Some(g) => Some((g, load_checkpoint(conn, &checkpoint_name(name, g)).await?)),
            None => None,
        };
        let fault = load_fault(conn, name).await?;
        Ok(Self {
            generation,
            checkpoint,
            rebuild,
            fault,
        })
    }
}

/// The event a generation keeps failing on.
struct Failure {
    generation: i64,
    position: i64,
    attempts: u32,
}

/// Which generation a batch is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Live,
    Rebuild,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing to read.
    Idle,
    /// Committed something (or backed off after a failure): loop again.
    Progressed,
}

/// An event whose `apply` failed, at `index` in the batch.
struct ApplyFailure {
    index: usize,
    error: anyhow::Error,
}

/// Outcome of one batch transaction.
enum Commit {
    Done,
    /// The projection's `apply` failed (rolled back).
    Failed(ApplyFailure),
    /// The checkpoint was not where this task left it: another instance moved it (rolled
    /// back; the task reloads).
    Fenced,
}

/// What instances tell each other on [`NOTICE_CHANNEL`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Notice {
    /// A committed live batch (or a swap) of the holder `instance`. `truncated`: the stream
    /// list was left out to fit the payload; the receiver reads it back from the log.
    Batch {
        instance: String,
        batch: BatchApplied,
        #[serde(default)]
        truncated: bool,
    },
    /// An operator command changed `projection`'s persisted state: its holder reloads.
    Wake {
        instance: String,
        projection: String,
    },
}

/// The payload of a batch notice, at most [`MAX_NOTICE_BYTES`].
fn encode_batch_notice(instance: &str, mut batch: BatchApplied) -> Option<String> {
    let notice = Notice::Batch {
        instance: instance.to_owned(),
        batch: batch.clone(),
        truncated: false,
    };
    let payload = serde_json::to_string(&notice).ok()?;
    if payload.len() <= MAX_NOTICE_BYTES {
        return Some(payload);
    }
    batch.streams.clear();
    serde_json::to_string(&Notice::Batch {
        instance: instance.to_owned(),
        batch,
        truncated: true,
    })
    .ok()
}

/// The distinct streams of the events `projection` handles, in first-seen order (empty when it
/// handles none: the batch changed nothing a client could see).
fn handled_streams(projection: &dyn Projection, events: &[RecordedEvent]) -> Vec<String> {
    let mut seen = HashSet::new();
    events
        .iter()
        .filter(|e| projection.handles(e) && seen.insert(e.stream_id.as_str()))
        .map(|e| e.stream_id.clone())
        .collect()
}

/// How often a holder waiting for work re-reads its persisted state anyway (an operator
/// command on another instance whose wake notice got lost).
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Receives the other instances' notices (PostgreSQL LISTEN) and feeds them into this runner:
/// batches into the [`BatchApplied`] broadcast and the standby checkpoints, wake-ups into the
/// holder task.
struct Listener {
    db: Db,
    store: Arc<SqlEventStore>,
    instance: String,
    shared: Vec<Arc<Shared>>,
    notify: broadcast::Sender<BatchApplied>,
    shutdown: watch::Receiver<bool>,
}

impl Listener {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        let mut connected_before = false;
        loop {
            let listener = async {
                let mut l = sqlx::postgres::PgListener::connect(self.db.url()).await?;
                l.listen(NOTICE_CHANNEL).await?;
                Ok::<_, sqlx::Error>(l)
            };
            let mut listener = tokio::select! {
                l = listener => match l {
                    Ok(l) => l,
                    Err(e) => {
                        warn!(error = %e, "LISTEN {NOTICE_CHANNEL} failed; retrying");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            _ = self.shutdown.changed() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                },
                _ = self.shutdown.changed() => return,
            };
            backoff = Duration::from_millis(100);
            if connected_before {
                self.missed_notices();
            }
            connected_before = true;
            loop {
                let received = tokio::select! {
                    r = listener.try_recv() => r,
                    _ = self.shutdown.changed() => return,
                };
                match received {
                    Ok(Some(notification)) => self.handle(notification.payload()).await,
                    Ok(None) => {
                        // Connection lost; the next call reconnects and re-LISTENs.
                        warn!("LISTEN {NOTICE_CHANNEL} connection lost; reconnecting");
                        self.missed_notices();
                    }
                    Err(e) => {
                        warn!(error = %e, "LISTEN {NOTICE_CHANNEL} failed; reconnecting");
                        break;
                    }
                }
            }
        }
    }

    /// Notices may have been missed: live listeners refetch (a swap-like notification makes
    /// the hub resync its clients); standby checkpoints are polled anyway.
    fn missed_notices(&self) {
        let Some(first) = self.shared.first() else {
            return;
        };
        let head = *self.store.head_watch().borrow();
        let _ = self.notify.send(BatchApplied {
            projection: first.name.to_owned(),
            generation: first.status().generation,
            first_position: 1,
            last_position: head,
            streams: Vec::new(),
            event_count: 0,
            swapped: true,
        });
    }

    async fn handle(&self, payload: &str) {
        let notice: Notice = match serde_json::from_str(payload) {
            Ok(notice) => notice,
            Err(e) => {
                debug!(error = %e, "ignoring an unreadable projection notice");
                return;
            }
        };
        match notice {
            Notice::Wake {
                instance,
                projection,
            } => {
                if instance == self.instance {
                    return;
                }
                if let Some(shared) = self.shared.iter().find(|s| s.name == projection) {
                    shared.wake();
                }
            }
            Notice::Batch {
                instance,
                mut batch,
                truncated,
            } => {
                if instance == self.instance {
                    // Delivered locally already.
                    return;
                }
                let Some(shared) = self.shared.iter().find(|s| s.name == batch.projection) else {
                    return;
                };
                // Committed before the notice was delivered: read-your-writes may rely on it.
                shared.publish_checkpoint(batch.last_position);
                if truncated && !batch.swapped {
                    batch.streams = self.streams_of(&batch).await;
                }
                let _ = self.notify.send(batch);
            }
        }
    }

    /// The streams of a batch whose notice left them out, read back from the log.
    async fn streams_of(&self, batch: &BatchApplied) -> Vec<String> {
        let count = batch.last_position - batch.first_position + 1;
        let Ok(count) = u32::try_from(count.max(0)) else {
            return Vec::new();
        };
        let Some(shared) = self.shared.iter().find(|s| s.name == batch.projection) else {
            return Vec::new();
        };
        match self.store.read_all(batch.first_position - 1, count).await {
            Ok(events) => handled_streams(shared.projection.as_ref(), &events),
            Err(e) => {
                warn!(error = %e, "cannot read the streams of a remote batch");
                Vec::new()
            }
        }
    }
}

struct Task {
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
}

impl Task {
    async fn run(mut self) {
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
            if self.state.fault.is_some() {
                reload = self.wait().await;
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
    }

    /// Waits for a commit, an operator command or shutdown. True when a command arrived.
    async fn wait(&mut self) -> bool {
        tokio::select! {
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

    async fn storage_failure(&mut self, error: StoreError) {
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
        if state.fault.is_none() {
            // Retried or skipped: the next failure counts from one again.
            self.failure = None;
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

    /// Deletes a generation's rows and checkpoint, in one transaction.
    async fn drop_generation(&self, conn: &mut AnyConnection, generation: i64) -> StoreResult<()> {
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

    /// One batch of `target`. A rebuild batch that reaches the end of the log also swaps.
    async fn step(&mut self, target: Target) -> StoreResult<Step> {
        let (generation, from) = match target {
            Target::Live => (self.state.generation, self.state.checkpoint),
            Target::Rebuild => match self.state.rebuild {
                Some(rebuild) => rebuild,
                None => return Ok(Step::Idle),
            },
        };
        let events = self.log.read_all(from, self.config.batch_size).await?;
        let swap = target == Target::Rebuild && events.len() < self.config.batch_size as usize;
        if events.is_empty() && !swap {
            return Ok(Step::Idle);
        }
        let span = debug_span!(
            "projection_batch",
            projection = self.shared.name,
            generation,
            from,
            count = events.len()
        );
        self.apply_batch(target, generation, from, &events, swap)
            .instrument(span)
            .await
    }

    async fn apply_batch(
        &mut self,
        target: Target,
        generation: i64,
        from: i64,
        events: &[RecordedEvent],
        swap: bool,
    ) -> StoreResult<Step> {
        let notice = self.notice(target, generation, events, swap);
        let failed = match self
            .commit(generation, from, events, swap, notice.as_deref())
            .await?
        {
            Commit::Done => {
                self.committed(target, generation, events, swap).await;
                return Ok(Step::Progressed);
            }
            Commit::Fenced => return Ok(self.fenced(generation)),
            Commit::Failed(failed) => failed,
        };
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
        let attempts = match &self.failure {
            Some(f) if f.generation == generation && f.position == event.position => {
                f.attempts.saturating_add(1)
            }
            _ => 1,
        };
        let error = format!("{:#}", failed.error);
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
    fn fenced(&mut self, generation: i64) -> Step {
        warn!(
            generation,
            "checkpoint moved by another instance; batch rolled back, reloading"
        );
        self.stale = true;
        Step::Progressed
    }

    /// The cross-instance notice of a batch about to commit (PostgreSQL only): live batches and
    /// the swap.
    fn notice(
        &self,
        target: Target,
        generation: i64,
        events: &[RecordedEvent],
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
                streams: handled_streams(self.shared.projection.as_ref(), events),
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
    async fn commit(
        &self,
        generation: i64,
        from: i64,
        events: &[RecordedEvent],
        swap: bool,
        notice: Option<&str>,
    ) -> StoreResult<Commit> {
        let mut conn = self.db.pool().acquire().await?;
        // Held until this function returns (after commit or rollback).
        let _turn = self.db.write_turn().await;
        let mut tx = begin(&mut conn, &self.db).await?;
        let projection = &self.shared.projection;
        let handled: Vec<&RecordedEvent> =
            events.iter().filter(|e| projection.handles(e)).collect();
        if let Err(error) = projection.apply_batch(&mut tx, generation, &handled).await {
            tx.rollback().await?;
            if let Some(transient) = self.transient(&error) {
                return Err(transient);
            }
            debug!(error = %format!("{error:#}"), "batch apply failed; applying event by event");
            // Event by event, to find the failing one (or to write the batch after all).
            tx = begin(&mut conn, &self.db).await?;
            for (index, event) in events.iter().enumerate() {
                if !projection.handles(event) {
                    continue;
                }
                if let Err(error) = projection.apply(&mut tx, generation, event).await {
                    tx.rollback().await?;
                    if let Some(transient) = self.transient(&error) {
                        return Err(transient);
                    }
                    return Ok(Commit::Failed(ApplyFailure { index, error }));
                }
            }
        }
        let to = events.last().map_or(from, |e| e.position);
        let name = self.shared.name;
        let checkpoint = checkpoint_name(name, generation);
        let now = now_us();
        let mut moved = sqlx::query(sql::ADVANCE_CHECKPOINT)
            .bind(&checkpoint)
            .bind(from)
            .bind(to)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 && from == 0 {
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
            sqlx::query("select 1::bigint from pg_notify($1, $2)")
                .bind(NOTICE_CHANNEL)
                .bind(payload)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
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
    async fn committed(
        &mut self,
        target: Target,
        generation: i64,
        events: &[RecordedEvent],
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
                let streams = handled_streams(self.shared.projection.as_ref(), events);
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
