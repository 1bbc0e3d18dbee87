//! Stored event rows as the hash chain sees them: the columns its hashes cover and the hashes
//! themselves, read in position order. Shared by the backfill (which writes the hashes) and
//! verify (which checks them), so both recompute a row's hash from exactly the same reading of
//! the stored text.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use crate::chain::{self, Content, Hash};
use crate::db::Backend;
use crate::error::StoreResult;

/// One stored row.
pub(crate) struct ChainRow {
    pub position: i64,
    pub version: i64,
    pub recorded_at_us: i64,
    /// The content digest recomputed from the stored columns.
    pub digest: Hash,
    /// The stored `hash` (`None` when null).
    pub hash: Option<Vec<u8>>,
    /// The stored `prev_hash` (`None` when null).
    pub prev_hash: Option<Vec<u8>>,
}

impl ChainRow {
    /// The hash this row should carry after `prev`.
    pub fn hash_after(&self, prev: &Hash) -> Hash {
        chain::row_hash(
            prev,
            self.position,
            self.version,
            self.recorded_at_us,
            &self.digest,
        )
    }
}

/// Up to `limit` rows with positions in `(after, last]`, in position order.
pub(crate) async fn read_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    after: i64,
    last: i64,
    limit: i64,
) -> StoreResult<Vec<ChainRow>> {
    decode_all(&read_raw(conn, backend, after, last, limit).await?)
}

/// [`read_rows`] undecoded: the caller decodes them with [`decode_all`] where it likes (verify
/// on a blocking thread while it reads the next page) and pages on with [`last_position`].
pub(crate) async fn read_raw(
    conn: &mut AnyConnection,
    backend: Backend,
    after: i64,
    last: i64,
    limit: i64,
) -> StoreResult<Vec<AnyRow>> {
    Ok(sqlx::query(backend.dialect().chain_rows)
        .bind(after)
        .bind(last)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?)
}

/// The position of the last of `rows`.
pub(crate) fn last_position(rows: &[AnyRow]) -> StoreResult<Option<i64>> {
    rows.last()
        .map(|row| row.try_get::<i64, _>(0))
        .transpose()
        .map_err(Into::into)
}

/// Decodes rows and recomputes their content digests (the costly part: a JSON parse, the
/// canonical form and SHA-256 per row).
pub(crate) fn decode_all(rows: &[AnyRow]) -> StoreResult<Vec<ChainRow>> {
    rows.iter().map(decode).collect()
}

fn decode(row: &AnyRow) -> StoreResult<ChainRow> {
    let event_id: String = row.try_get(1)?;
    let stream_id: String = row.try_get(2)?;
    let stream_type: String = row.try_get(3)?;
    let event_type: String = row.try_get(5)?;
    let schema_version: i64 = row.try_get(6)?;
    let data: String = row.try_get(7)?;
    let metadata: String = row.try_get(8)?;
    let tags: Option<String> = row.try_get(10)?;
    let data: Value = serde_json::from_str(&data)?;
    let metadata: Value = serde_json::from_str(&metadata)?;
    let tags: Vec<String> = match tags {
        Some(tags) => serde_json::from_str(&tags)?,
        None => Vec::new(),
    };
    let digest = chain::content_digest(&Content {
        event_id: &event_id,
        stream_id: &stream_id,
        stream_type: &stream_type,
        event_type: &event_type,
        schema_version,
        data: &data,
        metadata: &metadata,
        tags: &tags,
    });
    Ok(ChainRow {
        position: row.try_get(0)?,
        version: row.try_get(4)?,
        recorded_at_us: row.try_get(9)?,
        digest,
        hash: row.try_get(11)?,
        prev_hash: row.try_get(12)?,
    })
}

/// The stored hash of the row at `position`: `Ok(None)` when the row does not exist,
/// `Ok(Some(None))` when it has no hash.
pub(crate) async fn stored_hash(
    conn: &mut AnyConnection,
    position: i64,
) -> StoreResult<Option<Option<Vec<u8>>>> {
    let hash: Option<Option<Vec<u8>>> = sqlx::query_scalar(crate::sql::ROW_HASH)
        .bind(position)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(hash)
}

/// Takes `n` positions from the counter row (the log head lock, held until commit) and returns
/// the last one and the hash of the row at the old head: the previous hash of the first row the
/// transaction writes ([`chain::GENESIS`] for an empty log, or when that row has no hash: a row
/// written behind the store's back never makes an append fail; verify reports it).
///
/// One statement in the common case (`ADVANCE_HEAD_CHAINED`). When the subquery finds no hash
/// although there is a row before, it asks again in a statement of its own: on PostgreSQL an
/// update that waited for the lock sees the counter row as the other writer committed it, but
/// its subquery still reads with the snapshot taken when the statement started, before that
/// writer's rows were committed (another instance, or raw SQL taking the lock).
pub(crate) async fn advance_head(
    conn: &mut AnyConnection,
    n: i64,
) -> Result<(i64, Hash), sqlx::Error> {
    let (last, prev): (i64, Option<Vec<u8>>) = sqlx::query_as(crate::sql::ADVANCE_HEAD_CHAINED)
        .bind(n)
        .fetch_one(&mut *conn)
        .await?;
    let old_head = last - n;
    let prev = match chain::from_column(prev.as_deref()) {
        Some(prev) => Some(prev),
        None if old_head > 0 => {
            let again: Option<Option<Vec<u8>>> = sqlx::query_scalar(crate::sql::ROW_HASH)
                .bind(old_head)
                .fetch_optional(&mut *conn)
                .await?;
            chain::from_column(again.flatten().as_deref())
        }
        None => None,
    };
    Ok((last, prev.unwrap_or(chain::GENESIS)))
}
