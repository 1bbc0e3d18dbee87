//! One group-commit transaction: the bulk path (a handful of statements for the whole batch)
//! and the exact path it falls back to (each append in its own savepoint), the event inserts and
//! the commit that notifies other processes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{Any, AnyConnection, Connection as _, Executor as _};
use tracing::{Instrument as _, debug};

use super::duplicates::resolve_failure;
use super::{AppendRequest, Failure, Outcome, PreparedEvent, check_expected};
use crate::db::now_us;
use crate::envelope::AppendResult;
use crate::error::{StoreError, StoreResult, is_connection_lost, is_timeout};
use crate::sql::{self, Dialect};

type BatchResult = (Vec<StoreResult<AppendResult>>, Option<i64>);

/// One group-commit transaction. `Err` means the transaction as a whole failed (nothing of the
/// batch is written); per-append failures are in the outcomes.
///
/// A batch of several appends first takes the bulk path (a fixed handful of statements whatever
/// the batch size); if anything in it fails (an event id that is already stored, a storage
/// error) it is rolled back and the batch runs again append by append, where each append gets
/// its own exact answer. A lost connection or a timeout is not retried here (the writer runs
/// the batch again on a fresh connection or answers that the store is unavailable).
///
/// `commit_sent` is set just before the commit goes out: until then, a failure means nothing
/// of the batch is written; after it, the outcome is unknown until found out.
///
/// An append whose caller gave up while the batch waited for the log head lock is withdrawn
/// (written nothing, answered nobody): its caller is checked right after the lock is taken.
pub(super) async fn run_batch(
    conn: &mut AnyConnection,
    dialect: &'static Dialect,
    batch: &[AppendRequest],
    commit_sent: &AtomicBool,
) -> Result<BatchResult, sqlx::Error> {
    if batch.len() > 1 {
        match run_batch_bulk(conn, dialect, batch, commit_sent).await {
            Ok(result) => return Ok(result),
            Err(e)
                if commit_sent.load(Ordering::SeqCst)
                    || is_connection_lost(&e)
                    || is_timeout(&e) =>
            {
                return Err(e);
            }
            Err(e) => debug!(error = %e, "bulk append failed; running the batch append by append"),
        }
    }
    run_batch_per_append(conn, dialect, batch, commit_sent).await
}

/// The bulk path: the whole batch in five statements (counter, stream versions, one multi-row
/// insert, one multi-row stream upsert, commit), whatever the number of appends. Version checks
/// run in memory against the versions read under the counter lock, in batch order, so two
/// appends to one stream in one batch see each other. Appends that fail their check write
/// nothing; they are answered after the insert (a retry of a stored append gets its original
/// result). Any database error fails the whole attempt, and the caller falls back to
/// [`run_batch_per_append`].
async fn run_batch_bulk(
    conn: &mut AnyConnection,
    dialect: &'static Dialect,
    batch: &[AppendRequest],
    commit_sent: &AtomicBool,
) -> Result<BatchResult, sqlx::Error> {
    let now = now_us();
    let total: usize = batch.iter().map(|r| r.events.len()).sum();
    let total =
        i64::try_from(total).map_err(|_| sqlx::Error::Protocol("batch too large".into()))?;
    let mut tx = conn.begin_with(dialect.begin_write).await?;
    // Advance by everything the batch could write; lowered below if some appends fail. The row
    // lock is held until commit, so nobody sees the intermediate value.
    let advanced: i64 = sqlx::query_scalar(sql::ADVANCE_HEAD)
        .bind(total)
        .fetch_one(&mut *tx)
        .await?;
    let mut next_position = advanced - total + 1;

    let mut stream_ids: Vec<&str> = batch.iter().map(|r| r.stream_id.as_str()).collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    // One statement: a batch holds at most MAX_BATCH_APPENDS appends.
    let statement = sql::stream_versions(dialect, stream_ids.len());
    let mut query = sqlx::query_as::<_, (String, i64)>(&statement);
    for id in &stream_ids {
        query = query.bind(*id);
    }
    let mut versions: HashMap<&str, i64> = HashMap::with_capacity(stream_ids.len());
    for (id, version) in query.fetch_all(&mut *tx).await? {
        if let Ok(i) = stream_ids.binary_search(&id.as_str()) {
            versions.insert(stream_ids[i], version);
        }
    }

    let mut rows = Vec::with_capacity(batch.len());
    let mut planned = Vec::with_capacity(batch.len());
    // Touched streams in first-write order, with their type; their last version is `versions`.
    let mut touched: Vec<(&str, &str)> = Vec::new();
    for request in batch {
        // The head lock is held: a caller that gave up while we waited for it is withdrawn.
        if request.reply.is_closed() {
            planned.push(Err(None));
            continue;
        }
        let current = versions
            .get(request.stream_id.as_str())
            .copied()
            .unwrap_or(0);
        if let Err(e) = check_expected(&request.stream_id, request.expected, current) {
            planned.push(Err(Some(e)));
            continue;
        }
        let count = request.events.len() as i64;
        for (offset, event) in (0_i64..).zip(&request.events) {
            rows.push(EventRow {
                request,
                event,
                position: next_position + offset,
                version: current + 1 + offset,
            });
        }
        planned.push(Ok(AppendResult {
            first_version: current + 1,
            last_version: current + count,
            first_position: next_position,
            last_position: next_position + count - 1,
        }));
        next_position += count;
        if !touched.iter().any(|(id, _)| *id == request.stream_id) {
            touched.push((&request.stream_id, &request.stream_type));
        }
        versions.insert(&request.stream_id, current + count);
    }

    insert_rows(&mut tx, dialect, &rows, now).await?;
    for chunk in touched.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = sql::upsert_streams(dialect, chunk.len());
        let mut query = sqlx::query(&statement);
        for (id, stream_type) in chunk {
            let version = versions.get(id).copied().unwrap_or(0);
            query = query
                .bind(*id)
                .bind(*stream_type)
                .bind(version)
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    let last_position = next_position - 1;
    if last_position != advanced {
        sqlx::query(sql::SET_HEAD)
            .bind(last_position)
            .execute(&mut *tx)
            .await?;
    }

    let mut outcomes = Vec::with_capacity(batch.len());
    for (request, plan) in batch.iter().zip(planned) {
        outcomes.push(match plan {
            Ok(result) => Ok(result),
            // A retry of a stored append fails its version check: answer the original result.
            Err(Some(e)) => resolve_failure(&mut tx, dialect, request, Failure::Version(e))
                .await
                .map(Outcome::into_result),
            Err(None) => resolve_failure(&mut tx, dialect, request, Failure::Withdrawn)
                .await
                .map(Outcome::into_result),
        });
    }
    let new_head = (!rows.is_empty()).then_some(last_position);
    commit_batch(tx, dialect, new_head, commit_sent).await?;
    Ok((outcomes, new_head))
}

/// The exact path: each append in its own savepoint, so a failing append (version or
/// idempotency conflict, a unique index) is rolled back alone and gets its own error.
async fn run_batch_per_append(
    conn: &mut AnyConnection,
    dialect: &'static Dialect,
    batch: &[AppendRequest],
    commit_sent: &AtomicBool,
) -> Result<BatchResult, sqlx::Error> {
    let now = now_us();
    // A lone append needs no savepoint: if it fails, the whole transaction is rolled back.
    let savepoints = batch.len() > 1;
    let mut tx = conn.begin_with(dialect.begin_write).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut new_head = None;
    for request in batch {
        if savepoints {
            tx.execute(sql::SAVEPOINT).await?;
        }
        let attempt = append_one(&mut tx, dialect, request, now)
            .instrument(request.span.clone())
            .await;
        // On success the savepoint is not released (one round trip saved): the savepoints of a
        // batch nest, `rollback to` always targets the innermost one, commit ends them all.
        let outcome = match attempt {
            Ok(outcome) => Ok(outcome),
            // The session is gone or gave up waiting: the whole batch fails (and is run again
            // on a fresh connection, or answered as unavailable, by the writer).
            Err(Failure::Sql(e)) if is_connection_lost(&e) || is_timeout(&e) => {
                return Err(e);
            }
            Err(failure) if !savepoints => {
                tx.rollback().await?;
                let outcome = resolve_failure(conn, dialect, request, failure).await;
                return Ok((vec![outcome.map(Outcome::into_result)], None));
            }
            Err(failure) => {
                tx.execute(sql::ROLLBACK_TO_SAVEPOINT).await?;
                resolve_failure(&mut tx, dialect, request, failure).await
            }
        };
        if let Ok(Outcome::Written(result)) = &outcome {
            new_head = Some(result.last_position);
        }
        outcomes.push(outcome.map(Outcome::into_result));
    }
    commit_batch(tx, dialect, new_head, commit_sent).await?;
    Ok((outcomes, new_head))
}

/// Commits a batch; when it wrote something, other processes are woken with the new head in the
/// same transaction (PostgreSQL `pg_notify`, delivered at commit).
async fn commit_batch(
    mut tx: sqlx::Transaction<'_, Any>,
    dialect: &Dialect,
    new_head: Option<i64>,
    commit_sent: &AtomicBool,
) -> Result<(), sqlx::Error> {
    if let (Some(position), Some(notify)) = (new_head, dialect.notify) {
        sqlx::query(notify)
            .bind(position.to_string())
            .execute(&mut *tx)
            .await?;
    }
    commit_sent.store(true, Ordering::SeqCst);
    tx.commit().await
}

/// One row of a multi-row event insert.
struct EventRow<'a> {
    request: &'a AppendRequest,
    event: &'a PreparedEvent,
    position: i64,
    version: i64,
}

/// Inserts `rows` (of any streams) in multi-row statements of at most
/// [`sql::INSERT_CHUNK_ROWS`] rows, all recorded at `now`.
async fn insert_rows(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    rows: &[EventRow<'_>],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = sql::insert_events(dialect, chunk.len());
        let mut query = sqlx::query(&statement);
        for row in chunk {
            query = query
                .bind(row.position)
                .bind(&row.event.event_id)
                .bind(&row.request.stream_id)
                .bind(&row.request.stream_type)
                .bind(row.version)
                .bind(&row.event.event.event_type)
                .bind(row.event.event.schema_version)
                .bind(&row.event.data)
                .bind(&row.event.metadata)
                .bind(row.event.correlation_id.as_deref())
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

async fn append_one(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
    now: i64,
) -> Result<Outcome, Failure> {
    let count = i64::try_from(request.events.len())
        .map_err(|_| StoreError::Storage(sqlx::Error::Protocol("append too large".into())))?;

    // Positions: takes the counter row lock, held until commit (see the module docs).
    let last_position: i64 = sqlx::query_scalar(sql::ADVANCE_HEAD)
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
    let first_position = last_position - count + 1;
    // The head lock is held: a caller that gave up while we waited for it is withdrawn.
    if request.reply.is_closed() {
        return Err(Failure::Withdrawn);
    }

    let current: i64 = sqlx::query_scalar(dialect.lock_stream)
        .bind(&request.stream_id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0);
    check_expected(&request.stream_id, request.expected, current).map_err(Failure::Version)?;
    let first_version = current + 1;

    let rows: Vec<EventRow<'_>> = (0_i64..)
        .zip(&request.events)
        .map(|(offset, event)| EventRow {
            request,
            event,
            position: first_position + offset,
            version: first_version + offset,
        })
        .collect();
    insert_rows(tx, dialect, &rows, now)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Failure::Unique(e),
            _ => Failure::Sql(e),
        })?;

    let last_version = current + count;
    sqlx::query(sql::UPSERT_STREAM)
        .bind(&request.stream_id)
        .bind(&request.stream_type)
        .bind(last_version)
        .bind(now)
        .execute(&mut *tx)
        .await?;

    Ok(Outcome::Written(AppendResult {
        first_version,
        last_version,
        first_position,
        last_position,
    }))
}
