//! SQLite statements (JSON stored as TEXT; one writer at a time, so no row locks).

use super::Dialect;

pub(crate) const DIALECT: Dialect = Dialect {
    backend: crate::db::Backend::Sqlite,
    begin_write: "begin immediate",
    // `synchronous` cannot change inside a transaction, and in WAL mode the next append's
    // flush writes the batch's frames anyway.
    begin_batch: "begin immediate",
    // busy_timeout first: switching to WAL needs a lock another connection may hold.
    connection_setup: &[
        "pragma busy_timeout = 10000",
        "pragma journal_mode = wal",
        "pragma synchronous = full",
        "pragma foreign_keys = on",
    ],
    json_param: "",
    lock_rows: "",
    select_events: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data, metadata, recorded_at_us, tags from events",
    read_stream: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data, metadata, recorded_at_us, tags from events \
         where stream_id = $1 and version >= $2 order by version limit $3",
    read_all: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data, metadata, recorded_at_us, tags from events \
         where position > $1 order by position limit $2",
    read_correlated: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data, metadata, recorded_at_us, tags from events \
         where correlation_id = $1 order by position limit $2",
    save_snapshot: "insert into snapshots (stream_id, version, schema_version, state, taken_at_us) \
         values ($1, $2, $3, $4, $5) on conflict (stream_id) do update set \
         version = excluded.version, schema_version = excluded.schema_version, \
         state = excluded.state, taken_at_us = excluded.taken_at_us \
         where excluded.version > snapshots.version \
         or excluded.schema_version <> snapshots.schema_version",
    load_snapshot: "select version, schema_version, state from snapshots \
         where stream_id = $1 and schema_version = $2",
    chain_rows: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data, metadata, recorded_at_us, tags, hash, prev_hash from events \
         where position > $1 and position <= $2 order by position limit $3",
    notify: None,
};
