//! Hashing the rows of a database from before the hash chain (migration 0013 adds the columns
//! empty): at store open, before the writer appends, every row from position 1 is hashed in
//! position order, in chunks of one transaction each.
//!
//! - Resumable: each chunk records its last position in the checkpoint [`BACKFILL`] in the same
//!   transaction; a store opened after a crash continues at the first row without a hash.
//! - Idempotent: a database whose rows all carry a hash finds nothing to do (one index lookup
//!   in `events_unhashed_idx`).
//! - It never launders: it only starts at position 1 or continues its own earlier run. A row
//!   without a hash anywhere else (inserted behind the store's back, or written with the chain
//!   turned off after chained rows) is left alone and logged; verify reports it as unchained.
//! - Each chunk holds the log head lock (the writer's `begin` on SQLite, `for update` of the
//!   counter row on PostgreSQL), so other processes' appends wait for it rather than chain to a
//!   row that has no hash yet.

use std::time::Instant;

use sqlx::{AnyConnection, Connection as _};
use tracing::{info, warn};

use crate::chain::{self, Hash};
use crate::chain_rows::{read_rows, stored_hash};
use crate::db::Db;
use crate::error::StoreResult;
use crate::sql;

/// Checkpoint holding the last position the backfill hashed.
pub const BACKFILL: &str = "eventstore:chain-backfill";

/// Rows per backfill transaction (one read, one update statement).
const CHUNK_ROWS: i64 = 2_000;
/// Rows per update statement (3 parameters each).
const UPDATE_ROWS: usize = 1_000;

/// Hashes the rows without a hash from position 1 (or where an earlier run stopped) to the end
/// of the unhashed run. Returns how many rows it hashed.
pub(crate) async fn backfill(db: &Db) -> StoreResult<u64> {
    let mut conn = db.pool().acquire().await?;
    let Some(first) = sqlx::query_scalar::<_, i64>(sql::FIRST_UNHASHED)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(0);
    };
    let done = crate::checkpoint::load_checkpoint(&mut conn, BACKFILL).await?;
    if first != 1 && first != done + 1 {
        warn!(
            position = first,
            "event rows without a hash that the backfill does not own (written behind the \
             store's back or with the chain off); `server verify` reports them"
        );
        return Ok(0);
    }
    let started = Instant::now();
    let mut hashed: u64 = 0;
    let mut next = first;
    info!(from = first, "hash chain backfill starts");
    loop {
        let turn = db.write_turn().await;
        let (rows, last) = backfill_chunk(&mut conn, db, next).await?;
        drop(turn);
        hashed += rows;
        if rows == 0 {
            break;
        }
        next = last + 1;
        if hashed.is_multiple_of(CHUNK_ROWS as u64 * 50) {
            info!(
                hashed,
                position = last,
                events_per_sec = hashed as f64 / started.elapsed().as_secs_f64().max(1e-9),
                "hash chain backfill progress"
            );
        }
        if rows < CHUNK_ROWS as u64 {
            break;
        }
    }
    info!(hashed, elapsed = ?started.elapsed(), "hash chain backfill done");
    Ok(hashed)
}

/// One chunk from `from`: hashes the contiguous run of unhashed rows starting there (at most
/// [`CHUNK_ROWS`]) in one transaction. Returns how many rows and the last position hashed.
async fn backfill_chunk(conn: &mut AnyConnection, db: &Db, from: i64) -> StoreResult<(u64, i64)> {
    let dialect = db.backend().dialect();
    let mut tx = conn.begin_with(dialect.begin_write).await?;
    let lock = format!("{}{}", sql::HEAD_POSITION, dialect.lock_rows);
    let head: i64 = sqlx::query_scalar(&lock).fetch_one(&mut *tx).await?;
    let mut prev: Hash = if from == 1 {
        chain::GENESIS
    } else {
        stored_hash(&mut tx, from - 1)
            .await?
            .and_then(|h| chain::from_column(h.as_deref()))
            .unwrap_or(chain::GENESIS)
    };
    let rows = read_rows(&mut tx, db.backend(), from - 1, head, CHUNK_ROWS).await?;
    let mut updates: Vec<(i64, Hash, Hash)> = Vec::with_capacity(rows.len());
    let mut expected = from;
    for row in &rows {
        // The run ends at a hashed row (the chain written by the store) or a gap.
        if row.hash.is_some() || row.position != expected {
            break;
        }
        let hash = row.hash_after(&prev);
        updates.push((row.position, hash, prev));
        prev = hash;
        expected += 1;
    }
    for chunk in updates.chunks(UPDATE_ROWS) {
        let statement = sql::update_hashes(dialect, chunk.len());
        let mut query = sqlx::query(&statement);
        for (position, hash, prev) in chunk {
            query = query
                .bind(*position)
                .bind(hash.to_vec())
                .bind(prev.to_vec());
        }
        query.execute(&mut *tx).await?;
    }
    let last = expected - 1;
    if !updates.is_empty() {
        crate::checkpoint::save_checkpoint(&mut tx, BACKFILL, last).await?;
    }
    tx.commit().await?;
    Ok((updates.len() as u64, last))
}
