//! Checkpoints: how far a named consumer (projection, relay) has processed the global log.
//!
//! These are free functions on a connection so a consumer can save its checkpoint in the same
//! transaction as its own changes (exactly-once effect after a crash): pass `&mut *tx` for a
//! `sqlx::Transaction<'_, sqlx::Any>`. The SQL is the same on both backends.

use sqlx::AnyConnection;

use crate::error::StoreResult;
use crate::sql;

/// The saved position of `name`; 0 when it never saved one.
pub async fn load_checkpoint(conn: &mut AnyConnection, name: &str) -> StoreResult<i64> {
    let position: Option<i64> = sqlx::query_scalar(sql::LOAD_CHECKPOINT)
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(position.unwrap_or(0))
}

/// Saves (inserts or overwrites) the position of `name`.
pub async fn save_checkpoint(
    conn: &mut AnyConnection,
    name: &str,
    position: i64,
) -> StoreResult<()> {
    sqlx::query(sql::SAVE_CHECKPOINT)
        .bind(name)
        .bind(position)
        .bind(crate::db::now_us())
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves the position of `name` forward only (a lower `position` is ignored). For subscribers
/// that may briefly overlap with a successor, such as the broker relay after a lease change.
pub async fn advance_checkpoint(
    conn: &mut AnyConnection,
    name: &str,
    position: i64,
) -> StoreResult<()> {
    sqlx::query(sql::ADVANCE_CHECKPOINT_MONOTONIC)
        .bind(name)
        .bind(position)
        .bind(crate::db::now_us())
        .execute(conn)
        .await?;
    Ok(())
}
