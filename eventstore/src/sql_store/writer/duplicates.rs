//! What a failed append answers, resolved after its rollback: a retry of a stored append gets its
//! original result, a reused event id an `IdempotencyConflict`, a moved stream a version
//! conflict, a failed condition `ConditionFailed`. Only the failure path pays for it.

use sqlx::AnyConnection;

use super::{AppendRequest, Failure, Outcome, StreamWrite, check_expected};
use crate::envelope::AppendResult;
use crate::error::{StoreError, StoreResult};
use crate::placeholders::Placeholders;
use crate::sql::{self, Dialect};
use crate::sql_store::reads::{decode_event, parse_uuid};

/// Idempotency: if the first event id of the append is stored, the append is a retry. It
/// returns the original results when every event of every stream is stored with identical
/// content (tags included), in the same stream and order; otherwise it is an
/// `IdempotencyConflict`. JSON is compared by parsed value (JSONB normalises text).
///
/// A multi-stream append is written all or nothing, so its first event being stored means the
/// whole append was (or another append reused the id: a conflict).
async fn find_duplicate(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
) -> StoreResult<Option<Vec<AppendResult>>> {
    let Some(first) = request.streams.first().and_then(|s| s.events.first()) else {
        return Err(StoreError::EmptyAppend);
    };
    let found: Option<(String, i64)> = sqlx::query_as(sql::FIND_EVENT)
        .bind(&first.event_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let mut results = Vec::with_capacity(request.streams.len());
    let mut found = Some(found);
    for stream in &request.streams {
        results.push(stored_stream(tx, dialect, stream, found.take()).await?);
    }
    Ok(Some(results))
}

/// The stored copy of one stream's part of a retried append (`found`: where its first event
/// is, when already looked up), or the `IdempotencyConflict` that it differs.
async fn stored_stream(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    stream: &StreamWrite,
    found: Option<(String, i64)>,
) -> StoreResult<AppendResult> {
    let Some(first) = stream.events.first() else {
        return Err(StoreError::EmptyStreamAppend {
            stream: stream.stream_id.clone(),
        });
    };
    let conflict = |event_id| Err(StoreError::IdempotencyConflict { event_id });
    let found = match found {
        Some(found) => Some(found),
        None => {
            sqlx::query_as(sql::FIND_EVENT)
                .bind(&first.event_id)
                .fetch_optional(&mut *tx)
                .await?
        }
    };
    let Some((stream_id, first_version)) = found else {
        return conflict(first.event.event_id);
    };
    if stream_id != stream.stream_id {
        return conflict(first.event.event_id);
    }
    let count = i64::try_from(stream.events.len()).unwrap_or(i64::MAX);
    let rows = sqlx::query(dialect.read_stream)
        .bind(&stream_id)
        .bind(first_version)
        .bind(count)
        .fetch_all(&mut *tx)
        .await?;
    let mut positions = (0, 0);
    for (i, event) in stream.events.iter().enumerate() {
        let Some(row) = rows.get(i) else {
            return conflict(event.event.event_id);
        };
        let stored = decode_event(row)?;
        let same = stored.event_id == event.event.event_id
            && stored.event_type == event.event.event_type
            && stored.schema_version == event.event.schema_version
            && stored.data == event.event.data
            && stored.metadata == event.event.metadata
            && stored.tags == event.event.tags;
        if !same {
            return conflict(event.event.event_id);
        }
        if i == 0 {
            positions.0 = stored.position;
        }
        positions.1 = stored.position;
    }
    Ok(AppendResult {
        first_version,
        last_version: first_version + count - 1,
        first_position: positions.0,
        last_position: positions.1,
    })
}

/// What a failed append (already rolled back) answers. Idempotency is checked here, on the
/// failure path only: a retry of a stored append either fails the version check (the stream
/// moved on), fails its condition (its own events match it now) or hits the unique event id
/// index, so the happy path needs no extra query.
pub(super) async fn resolve_failure(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
    failure: Failure,
) -> StoreResult<Outcome> {
    match failure {
        Failure::Store(e) => Err(e),
        Failure::Sql(e) => Err(StoreError::from(e)),
        // Nobody waits for the answer.
        Failure::Withdrawn => Err(StoreError::Closed),
        Failure::Version(e) | Failure::Condition(e) => {
            match find_duplicate(conn, dialect, request).await? {
                Some(results) => Ok(Outcome::Duplicate(results)),
                None => Err(e),
            }
        }
        Failure::Unique(e) => resolve_unique_violation(conn, dialect, request, e).await,
    }
}

/// A unique index refused the insert (a writer that raced us, e.g. another process). Runs after
/// the savepoint rollback: a stored event id means a retry or an idempotency conflict; otherwise
/// the `(stream_id, version)` index fired and a stream moved under us.
async fn resolve_unique_violation(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
    error: sqlx::Error,
) -> StoreResult<Outcome> {
    if let Some(results) = find_duplicate(tx, dialect, request).await? {
        return Ok(Outcome::Duplicate(results));
    }
    let events: Vec<&str> = request
        .streams
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.event_id.as_str()))
        .collect();
    for chunk in events.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = format!(
            "select event_id from events where event_id in ({})",
            Placeholders::new(dialect.backend).list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(&statement);
        for event_id in chunk {
            query = query.bind(*event_id);
        }
        if let Some(existing) = query.persistent(false).fetch_all(&mut *tx).await?.first() {
            return Err(StoreError::IdempotencyConflict {
                event_id: parse_uuid(existing)?,
            });
        }
    }
    let mut versions = Vec::with_capacity(request.streams.len());
    for stream in &request.streams {
        let actual: i64 = sqlx::query_scalar(sql::STREAM_VERSION)
            .bind(&stream.stream_id)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(0);
        versions.push((stream.stream_id.as_str(), actual));
    }
    let current = |id: &str| {
        versions
            .iter()
            .find(|(stream, _)| *stream == id)
            .map_or(0, |(_, v)| *v)
    };
    match check_expected(request, current) {
        // A stream moved: report it as the typed conflict it is.
        Err(e) => Err(e),
        // Not a version conflict either (e.g. `Any` racing a foreign writer): report it raw.
        Ok(()) => Err(StoreError::Storage(error)),
    }
}
