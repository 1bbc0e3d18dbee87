//! Operator commands of [`ProjectionRunner`]: rebuild, retry, skip. Each is a conditional update
//! done by the caller (atomic, also against other instances); the task is then woken to reload
//! its row, here and, through a wake notice, on the lease holder's instance.

use tracing::{info, warn};

use super::begin;
use super::error::RunnerError;
use super::handle::ProjectionRunner;
use super::notices::Notice;
use super::persisted::load_fault;
use super::shared::RebuildStatus;
use super::task::drop_in_chunks;
use crate::checkpoint::{load_checkpoint, save_checkpoint};
use crate::db::{Backend, now_us};
use crate::projection::sql::{self, checkpoint_name};
use crate::projection::status::RateMeter;

/// Outcome of [`ProjectionRunner::rebuild_all`] for one projection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RebuildStarted {
    pub projection: String,
    /// The generation being built.
    pub generation: i64,
    /// True when that rebuild was already running (nothing new started).
    pub already_in_progress: bool,
}

impl ProjectionRunner {
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
        let _claiming = self.inner.claims.lock().await;
        let mut conn = db.pool().acquire().await?;
        if db.backend() == Backend::Sqlite {
            // Leftovers of an abandoned attempt at the next generation can be a whole read
            // model: dropped in chunks, taking turns with the appends, before the claim. Nobody
            // writes that generation meanwhile (no rebuild is claimed; one process per file).
            let row: Option<(i64, Option<i64>)> = sqlx::query_as(sql::LOAD_PROJECTION)
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some((live, None)) = row {
                drop_in_chunks(db, &mut conn, shared.projection.as_ref(), live + 1).await?;
            }
        }
        let _turn = db.write_turn().await;
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

    /// Clears the fault of `name` (after a fix) and lets it try the event again; `who` is
    /// recorded with the time on its dead letter.
    pub async fn retry(&self, name: &str, who: &str) -> Result<(), RunnerError> {
        let shared = self.find(name)?;
        let done = sqlx::query(sql::RETRY_DEAD_LETTER)
            .bind(name)
            .bind(now_us())
            .bind(who)
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
        let _turn = db.write_turn().await;
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
        if let Err(e) = crate::projection::sql::notify(&payload)
            .execute(db.pool())
            .await
        {
            warn!(error = %e, projection = name, "cannot notify the lease holder");
        }
    }
}
