//! One group-commit transaction: the bulk path (four round trips for the whole batch) and the
//! exact path it falls back to (each append in its own savepoint), the two combined statements
//! both use ([`open_batch`], [`write_batch`]; the SQL is in `sql/append.rs`) and the commit that
//! notifies other processes. Both paths chain the rows they place ([`link`], after
//! [`open_batch`] returned the previous row's hash).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{Any, AnyConnection, Connection as _, Executor as _, Row as _};
use tracing::{Instrument as _, debug};

use super::duplicates::resolve_failure;
use super::{AppendRequest, Failure, Outcome, PreparedEvent, StreamWrite, check_expected};
use crate::chain::{self, Hash};
use crate::db::{Backend, now_us};
use crate::envelope::{AppendResult, EventQuery};
use crate::error::{StoreError, StoreResult, is_connection_lost, is_timeout};
use crate::placeholders::Placeholders;
use crate::sql::{self, Dialect, query};

type BatchResult = (Vec<StoreResult<Vec<AppendResult>>>, Option<i64>);

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

/// The bulk path: the whole batch in four round trips (begin, [`open_batch`]: counter and
/// stream versions, [`write_batch`]: events, tags and streams, commit) whatever the number of
/// appends (a batch too big for one statement is written in chunks), plus one condition check
/// when appends are conditional and one idempotency look-up when some fail their checks.
/// Version checks run in memory against the versions read under the counter lock, in batch
/// order, so two appends to one stream in one batch see each other; conditions
/// are checked against the log before the batch (one statement for all of them) and, in
/// memory, against the events of the appends planned before them in this batch. Appends that
/// fail a check write nothing; they are answered after the insert (a retry of a stored append
/// gets its original result). Any database error fails the whole attempt, and the caller falls
/// back to [`run_batch_per_append`].
async fn run_batch_bulk(
    conn: &mut AnyConnection,
    dialect: &'static Dialect,
    batch: &[AppendRequest],
    commit_sent: &AtomicBool,
) -> Result<BatchResult, sqlx::Error> {
    let total: usize = batch.iter().map(AppendRequest::event_count).sum();
    let total =
        i64::try_from(total).map_err(|_| sqlx::Error::Protocol("batch too large".into()))?;
    let mut tx = conn.begin_with(dialect.begin_write).await?;
    // Advance by everything the batch could write; lowered below if some appends fail. The row
    // lock is held until commit, so nobody sees the intermediate value.
    let mut stream_ids: Vec<&str> = batch
        .iter()
        .flat_map(|r| r.streams.iter().map(|s| s.stream_id.as_str()))
        .collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    let chained = batch.iter().any(is_chained);
    let (advanced, prev_hash, mut versions) =
        open_batch(&mut tx, dialect, total, chained, &stream_ids).await?;
    // Stamped under the head lock: recorded times rise with positions (the event browser turns
    // time ranges into position ranges), whoever waited how long for the lock.
    let now = now_us();
    let mut next_position = advanced - total + 1;

    // What the log held before this batch: one statement for every condition of the batch.
    let conditions: Vec<(&EventQuery, i64)> = batch
        .iter()
        .filter_map(|r| r.condition.as_ref().map(|c| (&c.query, c.after)))
        .collect();
    let mut stored_matches = first_matches(&mut tx, dialect, &conditions)
        .await?
        .into_iter();

    let mut rows: Vec<EventRow<'_>> = Vec::with_capacity(batch.len());
    let mut planned: Vec<Result<Vec<AppendResult>, Failure>> = Vec::with_capacity(batch.len());
    // Touched streams in first-write order, with their type; their last version is `versions`.
    let mut touched: Vec<(&str, &str)> = Vec::new();
    for request in batch {
        // In batch order, like `conditions`.
        let stored_match = match &request.condition {
            Some(_) => stored_matches.next().flatten(),
            None => None,
        };
        // The head lock is held: a caller that gave up while we waited for it is withdrawn.
        if request.reply.is_closed() {
            planned.push(Err(Failure::Withdrawn));
            continue;
        }
        if let Err(e) = check_expected(request, |id| versions.get(id).copied().unwrap_or(0)) {
            planned.push(Err(Failure::Version(e)));
            continue;
        }
        if let Some(condition) = &request.condition {
            // A match in the log comes before any of this batch (lower positions). `rows` is in
            // position order: only those after `after` are looked at.
            let first = stored_match.or_else(|| {
                let from = rows.partition_point(|row| row.position <= condition.after);
                rows[from..]
                    .iter()
                    .find(|row| {
                        condition
                            .query
                            .matches(&row.event.event.event_type, &row.event.event.tags)
                    })
                    .map(|row| row.position)
            });
            if let Some(position) = first {
                planned.push(Err(Failure::Condition(StoreError::ConditionFailed {
                    position,
                })));
                continue;
            }
        }
        let mut results = Vec::with_capacity(request.streams.len());
        for stream in &request.streams {
            let current = versions
                .get(stream.stream_id.as_str())
                .copied()
                .unwrap_or(0);
            let count = stream.events.len() as i64;
            for (offset, event) in (0_i64..).zip(&stream.events) {
                rows.push(EventRow {
                    stream,
                    event,
                    position: next_position + offset,
                    version: current + 1 + offset,
                    hash: None,
                    prev_hash: None,
                });
            }
            results.push(AppendResult {
                first_version: current + 1,
                last_version: current + count,
                first_position: next_position,
                last_position: next_position + count - 1,
            });
            next_position += count;
            if !touched.iter().any(|(id, _)| *id == stream.stream_id) {
                touched.push((&stream.stream_id, &stream.stream_type));
            }
            versions.insert(&stream.stream_id, current + count);
        }
        planned.push(Ok(results));
    }

    link(&mut rows, prev_hash, now);
    let touched: Vec<(&str, &str, i64)> = touched
        .into_iter()
        .map(|(id, stream_type)| (id, stream_type, versions.get(id).copied().unwrap_or(0)))
        .collect();
    let last_position = next_position - 1;
    let new_head = (!rows.is_empty()).then_some(last_position);
    let mut notified = false;
    if !rows.is_empty() {
        notified = write_batch(&mut tx, dialect, &rows, &touched, now, new_head).await?;
    }
    if last_position != advanced {
        sqlx::query(sql::SET_HEAD)
            .bind(last_position)
            .execute(&mut *tx)
            .await?;
    }

    // A retry of a stored append fails its version check or its condition (its own events
    // match it now). One statement finds which failed appends' first events are stored; only
    // those are resolved further (the original result, or an idempotency conflict), the others
    // answer their failure as it is. A contended batch (many writers on few streams) fails most
    // of its appends: one look-up under the head lock instead of one per failure.
    let first_ids: Vec<&str> = batch
        .iter()
        .zip(&planned)
        .filter(|(_, plan)| matches!(plan, Err(Failure::Version(_) | Failure::Condition(_))))
        .filter_map(|(request, _)| first_event_id(request))
        .collect();
    let stored = stored_event_ids(&mut tx, dialect, &first_ids).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for (request, plan) in batch.iter().zip(planned) {
        outcomes.push(match plan {
            Ok(results) => Ok(results),
            Err(Failure::Version(e) | Failure::Condition(e))
                if first_event_id(request).is_none_or(|id| !stored.contains(id)) =>
            {
                Err(e)
            }
            Err(failure) => resolve_failure(&mut tx, dialect, request, failure)
                .await
                .map(Outcome::into_results),
        });
    }
    commit_batch(tx, dialect, new_head.filter(|_| !notified), commit_sent).await?;
    Ok((outcomes, new_head))
}

/// The id of an append's first event (what its idempotency is checked by).
fn first_event_id(request: &AppendRequest) -> Option<&str> {
    request
        .streams
        .first()
        .and_then(|s| s.events.first())
        .map(|e| e.event_id.as_str())
}

/// Which of `event_ids` are stored (one statement per chunk; none without ids).
async fn stored_event_ids(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    event_ids: &[&str],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut stored = HashSet::new();
    for chunk in event_ids.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = format!(
            "select event_id from events where event_id in ({})",
            Placeholders::new(dialect.backend).list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(&statement)
            .persistent(plan_may_be_cached(dialect, chunk.len()));
        for id in chunk {
            query = query.bind(*id);
        }
        stored.extend(query.fetch_all(&mut *tx).await?);
    }
    Ok(stored)
}

/// Opens a batch that takes `n` positions and touches `stream_ids` (sorted, distinct): the
/// last position taken, the hash of the row before the first one ([`chain::GENESIS`] when
/// there is none or it is unhashed; outside the one statement only asked for when `chained`)
/// and the streams' current versions (absent: the stream does not exist), locked until commit. The counter row lock is taken first and held until commit
/// (what makes the log gap-free).
///
/// One statement ([`sql::append::open_batch`]) unless the batch touches more streams than one
/// statement binds. On PostgreSQL, when the counter update waited for another session's commit,
/// the statement's snapshot predates that commit: the old head's row is not visible, and the
/// hash and versions are read again by statements of their own (a fresh snapshot each).
async fn open_batch<'a>(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    n: i64,
    chained: bool,
    stream_ids: &[&'a str],
) -> Result<(i64, Hash, HashMap<&'a str, i64>), sqlx::Error> {
    if stream_ids.is_empty() || stream_ids.len() > sql::INSERT_CHUNK_ROWS {
        let (last, prev) = advance_head(tx, n, chained).await?;
        let versions = read_versions(tx, dialect, stream_ids).await?;
        return Ok((last, prev, versions));
    }
    let statement = sql::append::open_batch(dialect, stream_ids.len());
    let mut query = sqlx::query(&statement)
        .persistent(plan_may_be_cached(dialect, stream_ids.len()))
        .bind(n)
        .bind(n);
    for id in stream_ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut *tx).await?;
    let mut versions: HashMap<&str, i64> = HashMap::with_capacity(stream_ids.len());
    let mut found = |id: String, version: i64| {
        if let Ok(i) = stream_ids.binary_search(&id.as_str()) {
            versions.insert(stream_ids[i], version);
        }
    };
    let (last, hash, seen) = match dialect.backend {
        Backend::Postgres => {
            let first = rows.first().ok_or(sqlx::Error::RowNotFound)?;
            let head = (
                first.try_get::<i64, _>(0)?,
                first.try_get::<Option<Vec<u8>>, _>(1)?,
                first.try_get::<bool, _>(2)?,
            );
            for row in &rows {
                if let Some(id) = row.try_get::<Option<String>, _>(3)? {
                    found(id, row.try_get(4)?);
                }
            }
            head
        }
        Backend::Sqlite => {
            let (first, streams) = rows.split_first().ok_or(sqlx::Error::RowNotFound)?;
            for row in streams {
                found(row.try_get(0)?, row.try_get(1)?);
            }
            (first.try_get(0)?, first.try_get(1)?, true)
        }
    };
    let old_head = last - n;
    if old_head > 0 && !seen {
        // A stale snapshot (see above): the previous hash and the versions as committed.
        let again: Option<Option<Vec<u8>>> = sqlx::query_scalar(sql::ROW_HASH)
            .bind(old_head)
            .fetch_optional(&mut *tx)
            .await?;
        let prev = chain::from_column(again.flatten().as_deref()).unwrap_or(chain::GENESIS);
        let versions = read_versions(tx, dialect, stream_ids).await?;
        return Ok((last, prev, versions));
    }
    let prev = chain::from_column(hash.as_deref()).unwrap_or(chain::GENESIS);
    Ok((last, prev, versions))
}

/// Whether a statement with an `in` list of `ids` values may run as a prepared statement whose
/// plan PostgreSQL caches. Not on PostgreSQL with more than one: after five runs PostgreSQL
/// may keep a generic plan, and one made while the tables were a few pages (a new database) is
/// a sequential scan that stays cached on the writer's long-lived connection until an ANALYZE
/// invalidates it; the scan then grows with the table (16 writers fell from 7,202 to 23
/// appends/s between an empty log and 10M events with autovacuum off). Such statements run
/// unnamed instead: planned with their values every time. A single id is a unique equality,
/// planned as an index scan at any size; SQLite plans at prepare time without statistics.
fn plan_may_be_cached(dialect: &Dialect, ids: usize) -> bool {
    dialect.backend == Backend::Sqlite || ids <= 1
}

/// Writes `rows` (contiguous positions, in order; at least one), their tags and the touched
/// `streams` (each once, with its new last version), all recorded at `now`. One statement
/// ([`sql::append::write_batch`]) when the batch fits in one, which on PostgreSQL also wakes
/// other processes with `notify` (the new head, delivered at commit) and answers `true`;
/// otherwise multi-row statements in chunks, and `false` (the commit notifies).
async fn write_batch(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    rows: &[EventRow<'_>],
    streams: &[(&str, &str, i64)],
    now: i64,
    notify: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let tags = rows
        .iter()
        .map(|row| row.event.event.tags.len())
        .sum::<usize>();
    if rows.len() > sql::append::WRITE_MAX_EVENTS
        || tags > sql::append::WRITE_MAX_TAGS
        || streams.len() > sql::append::WRITE_MAX_STREAMS
    {
        insert_rows(tx, dialect, rows, now).await?;
        upsert_streams(tx, dialect, streams, now).await?;
        return Ok(false);
    }
    let notify = notify.filter(|_| dialect.notify.is_some());
    let statement =
        sql::append::write_batch(dialect, rows.len(), tags, streams.len(), notify.is_some());
    let mut query = sqlx::query(&statement);
    for row in rows {
        query = bind_row(query, row, now);
    }
    for row in rows {
        for tag in &row.event.event.tags {
            query = query.bind(tag.as_str()).bind(row.position);
        }
    }
    for stream in streams {
        query = bind_stream(query, stream, now);
    }
    if let Some(head) = notify {
        query = query.bind(head.to_string());
    }
    query.execute(&mut *tx).await?;
    Ok(notify.is_some())
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds one stream upsert's 5 columns (id, type, last version, created and updated at `now`;
/// the order of [`sql::upsert_streams`]).
fn bind_stream<'q>(
    query: AnyQuery<'q>,
    &(id, stream_type, version): &(&'q str, &'q str, i64),
    now: i64,
) -> AnyQuery<'q> {
    query
        .bind(id)
        .bind(stream_type)
        .bind(version)
        .bind(now)
        .bind(now)
}

/// Binds one event row's 14 columns (the order of [`sql::EVENT_INSERT_COLUMNS`]).
fn bind_row<'q>(query: AnyQuery<'q>, row: &'q EventRow<'_>, now: i64) -> AnyQuery<'q> {
    query
        .bind(row.position)
        .bind(&row.event.event_id)
        .bind(&row.stream.stream_id)
        .bind(&row.stream.stream_type)
        .bind(row.version)
        .bind(&row.event.event.event_type)
        .bind(row.event.event.schema_version)
        .bind(&row.event.data)
        .bind(&row.event.metadata)
        .bind(row.event.correlation_id.as_deref())
        .bind(now)
        .bind(row.event.tags.as_deref())
        .bind(row.hash.map(|h| h.to_vec()))
        .bind(row.prev_hash.map(|h| h.to_vec()))
}

/// The current versions of `stream_ids` (sorted, distinct), locked until commit on PostgreSQL
/// (the writer holds the log head lock already; the row locks keep the check right even for
/// writers that would not). Streams that do not exist are absent.
async fn read_versions<'a>(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    stream_ids: &[&'a str],
) -> Result<HashMap<&'a str, i64>, sqlx::Error> {
    let mut versions: HashMap<&str, i64> = HashMap::with_capacity(stream_ids.len());
    // One statement unless the batch touches more than a chunk of streams.
    for chunk in stream_ids.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = sql::stream_versions(dialect, chunk.len());
        let mut query = sqlx::query_as::<_, (String, i64)>(&statement)
            .persistent(plan_may_be_cached(dialect, chunk.len()));
        for id in chunk {
            query = query.bind(*id);
        }
        for (id, version) in query.fetch_all(&mut *tx).await? {
            if let Ok(i) = chunk.binary_search(&id.as_str()) {
                versions.insert(chunk[i], version);
            }
        }
    }
    Ok(versions)
}

/// For each condition `(query, after)`: the first position after `after` of a stored event
/// matching `query`, `None` when there is none. One statement (one row, a column per
/// condition) unless the conditions bind too many parameters for one; none without
/// conditions. Sees everything this transaction wrote so far.
async fn first_matches(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    conditions: &[(&EventQuery, i64)],
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let mut matches = Vec::with_capacity(conditions.len());
    let mut rest = conditions;
    while !rest.is_empty() {
        // At least one per statement (a single query is bounded by MAX_QUERY_TERMS).
        let mut n = 0;
        let mut params = 0;
        while n < rest.len()
            && (n == 0 || params + query::params_of(rest[n].0) <= query::MAX_STATEMENT_PARAMS)
        {
            params += query::params_of(rest[n].0);
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let (statement, params) = query::first_matches(dialect, chunk);
        let row = query::bind_all(sqlx::query(&statement), &params)
            .fetch_one(&mut *tx)
            .await?;
        for i in 0..chunk.len() {
            matches.push(row.try_get::<Option<i64>, _>(i)?);
        }
    }
    Ok(matches)
}

/// Upserts `streams` (id, type, last version; each once) in multi-row statements.
async fn upsert_streams(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    streams: &[(&str, &str, i64)],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in streams.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = sql::upsert_streams(dialect, chunk.len());
        let mut query = sqlx::query(&statement);
        for stream in chunk {
            query = bind_stream(query, stream, now);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// The exact path: each append in its own savepoint, so a failing append (version or
/// idempotency conflict, a unique index) is rolled back alone and gets its own error.
async fn run_batch_per_append(
    conn: &mut AnyConnection,
    dialect: &'static Dialect,
    batch: &[AppendRequest],
    commit_sent: &AtomicBool,
) -> Result<BatchResult, sqlx::Error> {
    // A lone append needs no savepoint: if it fails, the whole transaction is rolled back.
    let savepoints = batch.len() > 1;
    let mut tx = conn.begin_with(dialect.begin_write).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut new_head = None;
    let mut head_notified = false;
    for request in batch {
        if savepoints {
            tx.execute(sql::SAVEPOINT).await?;
        }
        let attempt = append_one(&mut tx, dialect, request)
            .instrument(request.span.clone())
            .await;
        // On success the savepoint is not released (one round trip saved): the savepoints of a
        // batch nest, `rollback to` always targets the innermost one, commit ends them all.
        let outcome = match attempt {
            Ok((results, notified)) => {
                // The appends of a batch take rising positions: this one's is the head so far.
                // Its wake-up was sent with its write (or is left to the commit). A later
                // append rolled back to its savepoint takes its own wake-up with it.
                head_notified = notified;
                Ok(Outcome::Written(results))
            }
            // The session is gone or gave up waiting: the whole batch fails (and is run again
            // on a fresh connection, or answered as unavailable, by the writer).
            Err(Failure::Sql(e)) if is_connection_lost(&e) || is_timeout(&e) => {
                return Err(e);
            }
            Err(failure) if !savepoints => {
                tx.rollback().await?;
                let outcome = resolve_failure(conn, dialect, request, failure).await;
                return Ok((vec![outcome.map(Outcome::into_results)], None));
            }
            Err(failure) => {
                tx.execute(sql::ROLLBACK_TO_SAVEPOINT).await?;
                resolve_failure(&mut tx, dialect, request, failure).await
            }
        };
        if let Ok(Outcome::Written(results)) = &outcome
            && let Some(last) = results.iter().map(|r| r.last_position).max()
        {
            new_head = Some(last);
        }
        outcomes.push(outcome.map(Outcome::into_results));
    }
    commit_batch(
        tx,
        dialect,
        new_head.filter(|_| !head_notified),
        commit_sent,
    )
    .await?;
    Ok((outcomes, new_head))
}

/// Commits a batch; given `notify` (the new head, when the batch wrote something and its write
/// did not send the wake-up already), other processes are woken with it in the same transaction
/// (PostgreSQL `pg_notify`, delivered at commit).
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
    stream: &'a StreamWrite,
    event: &'a PreparedEvent,
    position: i64,
    version: i64,
    /// Set by [`link`] (with the chain on).
    hash: Option<Hash>,
    prev_hash: Option<Hash>,
}

/// Whether the append's events carry content digests (the store's chain is on).
fn is_chained(request: &AppendRequest) -> bool {
    request
        .streams
        .iter()
        .any(|s| s.events.iter().any(|e| e.digest.is_some()))
}

/// Takes `n` positions from the counter row: the last one, and the hash of the row at the old
/// head ([`chain::GENESIS`] with the chain off; see [`crate::chain_rows::advance_head`]).
async fn advance_head(
    tx: &mut AnyConnection,
    n: i64,
    chained: bool,
) -> Result<(i64, Hash), sqlx::Error> {
    if !chained {
        let last: i64 = sqlx::query_scalar(sql::ADVANCE_HEAD)
            .bind(n)
            .fetch_one(&mut *tx)
            .await?;
        return Ok((last, chain::GENESIS));
    }
    crate::chain_rows::advance_head(tx, n).await
}

/// Chains `rows` (contiguous positions, in order) to `prev`, the hash of the row before the
/// first: each row's hash covers the previous one's. Rows without a content digest (chain off)
/// stay unhashed.
fn link(rows: &mut [EventRow<'_>], mut prev: Hash, recorded_at_us: i64) {
    for row in rows {
        if let Some(digest) = &row.event.digest {
            let hash = chain::row_hash(&prev, row.position, row.version, recorded_at_us, digest);
            row.prev_hash = Some(prev);
            row.hash = Some(hash);
            prev = hash;
        }
    }
}

/// Inserts `rows` (of any streams) in multi-row statements of at most
/// [`sql::INSERT_CHUNK_ROWS`] rows, all recorded at `now`, and their tags into the tag index
/// (one more statement when any row has tags).
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
            query = bind_row(query, row, now);
        }
        query.execute(&mut *tx).await?;
    }
    let tags: Vec<(&str, i64)> = rows
        .iter()
        .flat_map(|row| {
            row.event
                .event
                .tags
                .iter()
                .map(move |tag| (tag.as_str(), row.position))
        })
        .collect();
    for chunk in tags.chunks(sql::TAG_CHUNK_ROWS) {
        let statement = sql::insert_tags(dialect, chunk.len());
        let mut query = sqlx::query(&statement);
        for (tag, position) in chunk {
            query = query.bind(*tag).bind(*position);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// One append in the exact path: the counter, the versions of its streams (one statement),
/// its condition (one statement, seeing the appends written before it in this transaction),
/// the inserts and the stream upsert.
async fn append_one(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
) -> Result<(Vec<AppendResult>, bool), Failure> {
    let count = i64::try_from(request.event_count())
        .map_err(|_| StoreError::Storage(sqlx::Error::Protocol("append too large".into())))?;

    let mut stream_ids: Vec<&str> = request
        .streams
        .iter()
        .map(|s| s.stream_id.as_str())
        .collect();
    stream_ids.sort_unstable();
    // Positions: takes the counter row lock, held until commit (see the module docs).
    let (last_position, prev_hash, versions) =
        open_batch(tx, dialect, count, is_chained(request), &stream_ids).await?;
    let first_position = last_position - count + 1;
    // Stamped under the head lock, like the bulk path.
    let now = now_us();
    // The head lock is held: a caller that gave up while we waited for it is withdrawn.
    if request.reply.is_closed() {
        return Err(Failure::Withdrawn);
    }
    let current = |id: &str| versions.get(id).copied().unwrap_or(0);
    check_expected(request, current).map_err(Failure::Version)?;
    if let Some(condition) = &request.condition
        && let Some(position) = first_matches(tx, dialect, &[(&condition.query, condition.after)])
            .await?
            .into_iter()
            .flatten()
            .next()
    {
        return Err(Failure::Condition(StoreError::ConditionFailed { position }));
    }

    let mut rows = Vec::with_capacity(request.event_count());
    let mut results = Vec::with_capacity(request.streams.len());
    let mut streams = Vec::with_capacity(request.streams.len());
    let mut next_position = first_position;
    for stream in &request.streams {
        let first_version = current(&stream.stream_id) + 1;
        let n = stream.events.len() as i64;
        for (offset, event) in (0_i64..).zip(&stream.events) {
            rows.push(EventRow {
                stream,
                event,
                position: next_position + offset,
                version: first_version + offset,
                hash: None,
                prev_hash: None,
            });
        }
        results.push(AppendResult {
            first_version,
            last_version: first_version + n - 1,
            first_position: next_position,
            last_position: next_position + n - 1,
        });
        streams.push((
            stream.stream_id.as_str(),
            stream.stream_type.as_str(),
            first_version + n - 1,
        ));
        next_position += n;
    }
    link(&mut rows, prev_hash, now);
    // Only the event insert has unique indexes that can refuse (the stream upsert resolves
    // its conflict, the tag rows' positions are new).
    let notified = write_batch(tx, dialect, &rows, &streams, now, Some(next_position - 1))
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Failure::Unique(e),
            _ => Failure::Sql(e),
        })?;
    Ok((results, notified))
}
