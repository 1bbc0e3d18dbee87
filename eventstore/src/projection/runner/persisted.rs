//! A projection's state as the database holds it (`projections` row, checkpoints, open dead
//! letter): what a task reloads after operator commands and a standby follows.

use sqlx::{AnyConnection, Row as _};
use uuid::Uuid;

use crate::checkpoint::load_checkpoint;
use crate::error::{StoreError, StoreResult};
use crate::projection::sql::{self, checkpoint_name};
use crate::projection::status::FaultInfo;

/// A projection's persisted state.
#[derive(Default)]
pub(super) struct Persisted {
    pub(super) generation: i64,
    pub(super) checkpoint: i64,
    /// (generation, checkpoint) of the rebuild in progress.
    pub(super) rebuild: Option<(i64, i64)>,
    pub(super) fault: Option<(i64, FaultInfo)>,
}

impl Persisted {
    pub(super) async fn load(conn: &mut AnyConnection, name: &str) -> StoreResult<Self> {
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

/// The open dead letter of `projection`: (row id, fault).
pub(super) async fn load_fault(
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
