//! The relay's fault: an event the store cannot read (its upcaster refuses it, its row does not
//! decode; see [`eventstore::upcast::is_unreadable`]) stops the relay right before it instead of
//! making it retry forever. Everything before the event is published and acknowledged first;
//! then the relay shows `Faulted` with the event's position and id and publishes nothing more
//! until an operator acts. It stays at-least-once: the event is never passed by silently.
//!
//! The fault is a row of `projection_dead_letters` named after the relay's checkpoint
//! (`relay:nats`, generation 0), so it survives a restart, any instance can resolve it, and a
//! skip is recorded with its reason, who and when:
//!
//! - [`retry`]: after deploying a fixed upcaster; the relay reads the event again (and faults
//!   again if it still cannot read it).
//! - [`skip`]: the relay's checkpoint moves over exactly that event, in the same transaction
//!   that records the skip; the event is never published.
//!
//! The faulted relay polls its row every [`POLL_EVERY`] (and is woken at once when the command
//! ran on its own instance), then resumes from its checkpoint.

use std::time::Duration;

use domain::views::RelayFault;
use eventstore::db::now_us;
use eventstore::sql_store::UnreadableEvent;
use eventstore::{Db, StoreError};
use sqlx::Row as _;
use uuid::Uuid;

/// How often a faulted relay looks whether its fault was resolved (on any instance).
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(1);

/// The generation of the relay's rows in `projection_dead_letters` (it has no generations).
const GENERATION: i64 = 0;

/// $1 = relay name -> the open fault with the event's stream and version.
const OPEN_FAULT: &str = "select d.id, d.event_id, d.position, d.event_type, d.error, \
     e.stream_id, e.version from projection_dead_letters d \
     left join events e on e.position = d.position \
     where d.projection = $1 and d.resolution is null";

/// $1 = relay name, $2 = generation, $3 = event_id, $4 = position, $5 = event_type,
/// $6 = error, $7 = attempts, $8 = failed_at_us.
const INSERT_FAULT: &str = "insert into projection_dead_letters \
     (projection, generation, event_id, position, event_type, error, attempts, failed_at_us) \
     values ($1, $2, $3, $4, $5, $6, $7, $8)";

/// $1 = relay name, $2 = now_us.
const RETRY_FAULT: &str = "update projection_dead_letters \
     set resolution = 'retried', resolved_at_us = $2 \
     where projection = $1 and resolution is null";

/// $1 = id, $2 = reason, $3 = resolved_by, $4 = now_us.
const SKIP_FAULT: &str = "update projection_dead_letters \
     set resolution = 'skipped', reason = $2, resolved_by = $3, resolved_at_us = $4 \
     where id = $1 and resolution is null";

/// Why an operator command on the relay was refused.
#[derive(Debug, thiserror::Error)]
pub enum RelayCommandError {
    #[error("the relay is not faulted")]
    NotFaulted,
    #[error("a skip needs a reason")]
    MissingReason,
    #[error("event store: {0}")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RelayCommandError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// The open fault of relay `name`, if any: its row id and the event.
pub(crate) async fn open(db: &Db, name: &str) -> Result<Option<(i64, RelayFault)>, StoreError> {
    let Some(row) = sqlx::query(OPEN_FAULT)
        .bind(name)
        .fetch_optional(db.pool())
        .await?
    else {
        return Ok(None);
    };
    let event_id: String = row.try_get(1)?;
    let fault = RelayFault {
        event_id: Uuid::parse_str(&event_id).unwrap_or(Uuid::nil()),
        position: row.try_get(2)?,
        event_type: row.try_get(3)?,
        error: row.try_get(4)?,
        stream_id: row.try_get::<Option<String>, _>(5)?.unwrap_or_default(),
        version: row.try_get::<Option<i64>, _>(6)?.unwrap_or_default(),
    };
    Ok(Some((row.try_get(0)?, fault)))
}

/// Records that relay `name` stopped on `event` (`error` already free of credentials), unless
/// a fault is open already (a restart on the same event); answers the open fault.
pub(crate) async fn record(
    db: &Db,
    name: &str,
    event: &UnreadableEvent,
    error: &str,
) -> Result<RelayFault, StoreError> {
    if let Some((_, fault)) = open(db, name).await? {
        return Ok(fault);
    }
    let turn = db.write_turn().await;
    sqlx::query(INSERT_FAULT)
        .bind(name)
        .bind(GENERATION)
        .bind(event.event_id.to_string())
        .bind(event.position)
        .bind(&event.event_type)
        .bind(error)
        .bind(1_i64)
        .bind(now_us())
        .execute(db.pool())
        .await?;
    drop(turn);
    Ok(RelayFault {
        position: event.position,
        event_id: event.event_id,
        stream_id: event.stream_id.clone(),
        version: event.version,
        event_type: event.event_type.clone(),
        error: error.to_owned(),
    })
}

/// Clears the fault of relay `name`: it reads the event again.
pub(crate) async fn retry(db: &Db, name: &str) -> Result<(), RelayCommandError> {
    let turn = db.write_turn().await;
    let done = sqlx::query(RETRY_FAULT)
        .bind(name)
        .bind(now_us())
        .execute(db.pool())
        .await?;
    drop(turn);
    if done.rows_affected() == 0 {
        return Err(RelayCommandError::NotFaulted);
    }
    Ok(())
}

/// Moves relay `name` over the event it faulted on, never publishing it: records the skip
/// (`reason`, `who`) and moves the checkpoint to the event's position in one transaction.
pub(crate) async fn skip(
    db: &Db,
    name: &str,
    reason: &str,
    who: &str,
) -> Result<RelayFault, RelayCommandError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(RelayCommandError::MissingReason);
    }
    let Some((id, fault)) = open(db, name).await? else {
        return Err(RelayCommandError::NotFaulted);
    };
    let turn = db.write_turn().await;
    let mut tx = db.pool().begin().await?;
    // The write first: on SQLite the transaction takes the write lock at once.
    let done = sqlx::query(SKIP_FAULT)
        .bind(id)
        .bind(reason)
        .bind(who)
        .bind(now_us())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        tx.rollback().await?;
        return Err(RelayCommandError::NotFaulted);
    }
    eventstore::advance_checkpoint(&mut tx, name, fault.position).await?;
    tx.commit().await?;
    drop(turn);
    Ok(fault)
}
