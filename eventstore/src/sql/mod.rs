//! SQL text. Statements that differ between the backends live in `sqlite.rs` and
//! `postgres.rs` (one [`Dialect`] value each); statements both accept verbatim live here. The
//! Rust logic that runs them exists once, in `sql_store.rs`.
//!
//! Placeholders are `$1, $2, ...` on both backends (sqlx passes them through to SQLite, which
//! accepts `$NNN`).

use crate::placeholders::Placeholders;

pub(crate) mod append;
pub(crate) mod postgres;
pub(crate) mod query;
pub(crate) mod sqlite;

/// The statements that differ per backend.
pub(crate) struct Dialect {
    /// The backend these statements are for (placeholder style of built statements).
    pub backend: crate::db::Backend,
    /// Starts the writer's transaction. SQLite: `begin immediate` takes the write lock up front
    /// (a deferred transaction that later upgrades can fail with SQLITE_BUSY).
    pub begin_write: &'static str,
    /// Starts a projection batch's transaction: [`Dialect::begin_write`], on PostgreSQL without
    /// waiting for the commit's WAL flush (`synchronous_commit = off` for this transaction only).
    /// A read model is derived: its rows and checkpoint commit atomically either way, and a
    /// batch lost to a database crash is applied again from the checkpoint before it. The log
    /// itself keeps `synchronous_commit = on`.
    pub begin_batch: &'static str,
    /// Per-connection settings run right after connecting.
    pub connection_setup: &'static [&'static str],
    /// Suffix of a JSON parameter (`::jsonb` on PostgreSQL).
    pub json_param: &'static str,
    /// Suffix that locks the selected rows until commit (`for update` on PostgreSQL; empty on
    /// SQLite, whose writer holds the database write lock).
    pub lock_rows: &'static str,
    /// `select <event columns> from events`, to which read statements built at run time add
    /// their `where` (columns in the order `decode_event` reads them).
    pub select_events: &'static str,
    /// $1 = stream_id, $2 = from_version, $3 = limit.
    pub read_stream: &'static str,
    /// $1 = after_position, $2 = limit.
    pub read_all: &'static str,
    /// $1 = correlation_id, $2 = limit.
    pub read_correlated: &'static str,
    /// $1 = stream_id, $2 = version, $3 = schema_version, $4 = state, $5 = taken_at_us.
    pub save_snapshot: &'static str,
    /// $1 = stream_id, $2 = schema_version.
    pub load_snapshot: &'static str,
    /// The rows the hash chain covers, with their stored hashes, in position order
    /// (`crate::chain_rows`). $1 = after position, $2 = last position, $3 = limit.
    pub chain_rows: &'static str,
    /// Wakes other processes at commit (PostgreSQL `pg_notify`). $1 = head position as text.
    pub notify: Option<&'static str>,
}

/// Columns of an event row, in the order `sql_store::reads::decode_event` reads them. Each dialect
/// writes them out (JSON columns are cast to text on PostgreSQL).
pub(crate) const EVENT_INSERT_COLUMNS: &str = "insert into events (position, event_id, stream_id, \
     stream_type, version, event_type, schema_version, data, metadata, correlation_id, \
     recorded_at_us, tags, hash, prev_hash) values ";

/// Rows per insert statement: 7,000 parameters (14 per row), far below SQLite's 32,766 and
/// PostgreSQL's 65,535 limits.
pub(crate) const INSERT_CHUNK_ROWS: usize = 500;

/// Takes `n` positions from the counter row and returns the last one. The row lock it takes is
/// held until commit: this is what makes the global log gap-free (see the migration).
pub(crate) const ADVANCE_HEAD: &str =
    "update log_head set position = position + $1 where id = 1 returning position";

/// [`ADVANCE_HEAD`] that also returns the hash of the row at the old head (the previous hash of
/// the first row this transaction writes; null for an empty log or an unhashed row), so that
/// the hash chain costs no extra round trip. The subquery sees rows written earlier in the same
/// transaction (the exact path's savepoints), but on PostgreSQL not those another session
/// committed while this statement waited for the lock: `chain_rows::advance_head` asks again
/// then. $1 = n.
pub(crate) const ADVANCE_HEAD_CHAINED: &str = "update log_head set position = position + $1 \
     where id = 1 returning position, \
     (select hash from events where position = log_head.position - $1)";

/// Sets the head after a batch that took fewer positions than it advanced by (some appends
/// failed their version check). The writer holds the row lock, so nobody saw the larger value.
/// $1 = position.
pub(crate) const SET_HEAD: &str = "update log_head set position = $1 where id = 1";

pub(crate) const HEAD_POSITION: &str = "select position from log_head where id = 1";

/// $1 = event_id.
pub(crate) const FIND_EVENT: &str = "select stream_id, version from events where event_id = $1";

/// $1 = stream_id.
pub(crate) const STREAM_VERSION: &str = "select version from streams where stream_id = $1";

/// The stream browser's statements; one per kind of id filter, so that each is a plain index
/// range (a `$n is null or ...` test would keep SQLite from bounding the range by it). Stream
/// ids compare bytewise on both backends (BINARY / collate "C").
///
/// $1 = stream_type or null, $2 = after id or null, $3 = limit.
pub(crate) const LIST_STREAMS: &str = "select stream_id, stream_type, version, updated_at_us \
     from streams \
     where ($1 is null or stream_type = $1) and ($2 is null or stream_id > $2) \
     order by stream_id limit $3";

/// [`LIST_STREAMS`] of the ids starting with $4: the range `[$4, $5)` of the primary key
/// ($5 = the prefix's upper bound) plus an exact `substr` check.
pub(crate) const LIST_STREAMS_PREFIXED: &str = "select stream_id, stream_type, version, \
     updated_at_us from streams \
     where ($1 is null or stream_type = $1) and ($2 is null or stream_id > $2) \
       and stream_id >= $4 and stream_id < $5 and substr(stream_id, 1, length($4)) = $4 \
     order by stream_id limit $3";

/// [`LIST_STREAMS`] of the ids ending with the short id $4 (8 characters): the expression
/// `streams_short_id_idx` indexes.
pub(crate) const LIST_STREAMS_TAILED: &str = "select stream_id, stream_type, version, \
     updated_at_us from streams \
     where ($1 is null or stream_type = $1) and ($2 is null or stream_id > $2) \
       and substr(stream_id, length(stream_id) - 7) = $4 \
     order by stream_id limit $3";

/// $1 = name.
pub(crate) const LOAD_CHECKPOINT: &str = "select position from checkpoints where name = $1";

/// $1 = name, $2 = position, $3 = now_us.
pub(crate) const SAVE_CHECKPOINT: &str = "insert into checkpoints (name, position, updated_at_us) \
     values ($1, $2, $3) on conflict (name) do update set position = excluded.position, \
     updated_at_us = excluded.updated_at_us";

/// Like [`SAVE_CHECKPOINT`] but never moves a checkpoint backwards: a subscriber that lost its
/// lease and has not noticed yet cannot undo its successor's progress. $1..$3 as above.
pub(crate) const ADVANCE_CHECKPOINT_MONOTONIC: &str = "insert into checkpoints (name, position, updated_at_us) \
     values ($1, $2, $3) on conflict (name) do update set position = excluded.position, \
     updated_at_us = excluded.updated_at_us where checkpoints.position < excluded.position";

pub(crate) const SAVEPOINT: &str = "savepoint eventide_append";
pub(crate) const ROLLBACK_TO_SAVEPOINT: &str = "rollback to savepoint eventide_append";

/// Builds the multi-row insert for `rows` events (parameters in bind order, see
/// [`crate::placeholders`]).
pub(crate) fn insert_events(dialect: &Dialect, rows: usize) -> String {
    insert_events_with(dialect, rows, &mut Placeholders::new(dialect.backend))
}

/// [`insert_events`] taking its placeholders from `p` (a statement of several parts).
pub(crate) fn insert_events_with(dialect: &Dialect, rows: usize, p: &mut Placeholders) -> String {
    let j = dialect.json_param;
    let mut sql = String::with_capacity(EVENT_INSERT_COLUMNS.len() + rows * 90);
    sql.push_str(EVENT_INSERT_COLUMNS);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        // position, event_id, stream_id, stream_type, version, event_type, schema_version
        sql.push('(');
        sql.push_str(&p.list(7));
        // data, metadata (JSON), correlation_id, recorded_at_us, tags (JSON text), hash,
        // prev_hash
        let (data, metadata) = (p.param(), p.param());
        sql.push_str(&format!(", {data}{j}, {metadata}{j}, "));
        sql.push_str(&p.list(5));
        sql.push(')');
    }
    sql
}

/// Rows per tag insert statement (2 parameters per row).
pub(crate) const TAG_CHUNK_ROWS: usize = 2_000;

/// Builds the multi-row insert of `rows` (tag, position) rows into the tag index.
pub(crate) fn insert_tags(dialect: &Dialect, rows: usize) -> String {
    insert_tags_with(rows, &mut Placeholders::new(dialect.backend))
}

/// [`insert_tags`] taking its placeholders from `p`.
pub(crate) fn insert_tags_with(rows: usize, p: &mut Placeholders) -> String {
    format!(
        "insert into event_tags (tag, position) values {}",
        p.rows(rows, 2)
    )
}

/// Builds the multi-row stream upsert for `rows` distinct streams (PostgreSQL refuses to update
/// one row twice in a statement: callers pass each stream once, with its last version). Per row:
/// stream_id, stream_type, version, created_at_us, updated_at_us.
pub(crate) fn upsert_streams(dialect: &Dialect, rows: usize) -> String {
    upsert_streams_with(rows, &mut Placeholders::new(dialect.backend))
}

/// [`upsert_streams`] taking its placeholders from `p`.
pub(crate) fn upsert_streams_with(rows: usize, p: &mut Placeholders) -> String {
    format!(
        "insert into streams (stream_id, stream_type, version, created_at_us, updated_at_us) \
         values {} on conflict (stream_id) do update set version = excluded.version, \
         updated_at_us = excluded.updated_at_us",
        p.rows(rows, 5)
    )
}

/// Builds `select stream_id, version from streams where stream_id in (..)` for `n` ids, with the
/// dialect's row-lock suffix.
pub(crate) fn stream_versions(dialect: &Dialect, n: usize) -> String {
    let mut p = Placeholders::new(dialect.backend);
    format!(
        "select stream_id, version from streams where stream_id in ({}){}",
        p.list(n),
        dialect.lock_rows
    )
}

/// The first row without a hash (the backfill's start; `events_unhashed_idx`).
pub(crate) const FIRST_UNHASHED: &str =
    "select position from events where hash is null order by position limit 1";

/// $1 = position.
pub(crate) const ROW_HASH: &str = "select hash from events where position = $1";

/// The head and the first row beyond it (a row inserted behind the store's back), read in one
/// statement so that an append between the two cannot look like an insertion.
pub(crate) const HEAD_AND_BEYOND: &str = "select position, \
     (select min(position) from events where position > log_head.position) \
     from log_head where id = 1";

/// Builds the backfill's update of `rows` rows' hashes: (position, hash, prev_hash) each. A
/// `values` list in a CTE with named columns, which both backends accept (SQLite has no
/// `as v(a, b)` column aliases on a `values` in `from`).
pub(crate) fn update_hashes(dialect: &Dialect, rows: usize) -> String {
    let mut p = Placeholders::new(dialect.backend);
    format!(
        "with v(pos, h, p) as (values {}) \
         update events set hash = v.h, prev_hash = v.p from v where events.position = v.pos",
        p.rows(rows, 3)
    )
}
