//! The dead-letter history of [`ProjectionRunner`]: every event a projection halted on, open
//! or resolved (retried or skipped, by whom, when and why), newest first, keyset-paged by id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use uuid::Uuid;

use super::error::RunnerError;
use super::handle::ProjectionRunner;
use crate::error::StoreError;

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its id (keyset cursor of the history).
    pub id: i64,
    pub projection: String,
    /// The generation whose apply failed (a rebuild can fault too).
    pub generation: i64,
    pub event_id: Uuid,
    pub position: i64,
    pub event_type: String,
    /// The last error, with its cause chain.
    pub error: String,
    pub attempts: i64,
    pub failed_at: DateTime<Utc>,
    /// `None` while open; `retried` or `skipped`.
    pub resolution: Option<String>,
    pub reason: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// $1 = projection or null, $2 = before id or null, $3 = limit.
const LIST_DEAD_LETTERS: &str = "select id, projection, generation, event_id, position, \
     event_type, error, attempts, failed_at_us, resolution, reason, resolved_by, resolved_at_us \
     from projection_dead_letters \
     where ($1 is null or projection = $1) and ($2 is null or id < $2) \
     order by id desc limit $3";

fn time(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| {
        StoreError::Storage(sqlx::Error::Decode(
            format!("timestamp out of range: {us}").into(),
        ))
    })
}

impl ProjectionRunner {
    /// Dead letters of `projection` (all projections when `None`), newest first, with ids below
    /// `before`, at most `limit`.
    pub async fn dead_letters(
        &self,
        projection: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, RunnerError> {
        if let Some(name) = projection {
            self.find(name)?;
        }
        let rows = sqlx::query(LIST_DEAD_LETTERS)
            .bind(projection)
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(self.inner.store.db().pool())
            .await
            .map_err(StoreError::from)?;
        let mut letters = Vec::with_capacity(rows.len());
        for row in &rows {
            let event_id: String = row.try_get(3).map_err(StoreError::from)?;
            let resolved_at: Option<i64> = row.try_get(12).map_err(StoreError::from)?;
            letters.push(DeadLetter {
                id: row.try_get(0).map_err(StoreError::from)?,
                projection: row.try_get(1).map_err(StoreError::from)?,
                generation: row.try_get(2).map_err(StoreError::from)?,
                event_id: Uuid::parse_str(&event_id)
                    .map_err(|e| StoreError::Storage(sqlx::Error::Decode(Box::new(e))))?,
                position: row.try_get(4).map_err(StoreError::from)?,
                event_type: row.try_get(5).map_err(StoreError::from)?,
                error: row.try_get(6).map_err(StoreError::from)?,
                attempts: row.try_get(7).map_err(StoreError::from)?,
                failed_at: time(row.try_get(8).map_err(StoreError::from)?)?,
                resolution: row.try_get(9).map_err(StoreError::from)?,
                reason: row.try_get(10).map_err(StoreError::from)?,
                resolved_by: row.try_get(11).map_err(StoreError::from)?,
                resolved_at: resolved_at.map(time).transpose()?,
            });
        }
        Ok(letters)
    }
}
