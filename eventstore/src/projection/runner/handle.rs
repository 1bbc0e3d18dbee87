//! [`ProjectionRunner`]: the cloneable handle. Starting the tasks, status, read-your-writes
//! (`wait_for`), subscriptions and shutdown; the operator commands are in `operator.rs`.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt as _;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, error, info_span, warn};

use super::config::RunnerConfig;
use super::error::RunnerError;
use super::listener::Listener;
use super::persisted::Persisted;
use super::shared::{RebuildStatus, Shared, Status, lock};
use super::task::{Task, panic_message};
use crate::db::{Backend, now_us};
use crate::error::{StoreError, StoreResult};
use crate::projection::Projection;
use crate::projection::log_cache::LogCache;
use crate::projection::sql;
use crate::projection::status::{BatchApplied, ProjectionStatusInfo, RateMeter};
use crate::sql_store::SqlEventStore;
use crate::store::EventStore;

/// Capacity of the [`BatchApplied`] broadcast; slow receivers get `Lagged` and should refetch.
const NOTIFY_CAPACITY: usize = 1024;

/// Runs projections; cheap to clone. Dropping the last clone aborts the tasks (a batch in flight
/// rolls back); [`shutdown`](Self::shutdown) stops them between batches.
#[derive(Clone)]
pub struct ProjectionRunner {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for ProjectionRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.inner.shared.iter().map(|s| s.name).collect();
        f.debug_struct("ProjectionRunner")
            .field("projections", &names)
            .finish_non_exhaustive()
    }
}

pub(super) struct Inner {
    pub(super) store: Arc<SqlEventStore>,
    pub(super) config: Arc<RunnerConfig>,
    pub(super) shared: Vec<Arc<Shared>>,
    pub(super) notify: broadcast::Sender<BatchApplied>,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Held while a rebuild is claimed: the leftovers of an abandoned attempt are dropped (in
    /// chunks, on SQLite) before the claim, and no other claim may start meanwhile.
    pub(super) claims: tokio::sync::Mutex<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Runs `task`; if it dies of a panic, its projection shows Faulted with the panic message
/// instead of a dead task that still says Running.
async fn supervised(shared: Arc<Shared>, task: Task) {
    if let Err(panic) = AssertUnwindSafe(task.run()).catch_unwind().await {
        let message = format!(
            "projection task panicked: {}",
            panic_message(panic.as_ref())
        );
        error!(error = %message, "projection task died");
        let mut status = shared.status();
        status.crashed = true;
        status.last_error = Some(message);
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
                    crashed: false,
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
                let task = Task::new(
                    s.clone(),
                    db.clone(),
                    log.clone(),
                    config.clone(),
                    notify.clone(),
                    shutdown.subscribe(),
                    store.head_watch(),
                );
                let span = info_span!("projection", projection = s.name);
                tokio::spawn(supervised(s.clone(), task).instrument(span))
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
                claims: tokio::sync::Mutex::new(()),
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

    pub(super) fn find(&self, name: &str) -> Result<&Arc<Shared>, RunnerError> {
        self.inner
            .shared
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| RunnerError::UnknownProjection(name.to_owned()))
    }
}
