//! PostgreSQL statements (JSON stored as JSONB, cast to text for the `Any` driver).

use super::Dialect;

pub(crate) const DIALECT: Dialect = Dialect {
    backend: crate::db::Backend::Postgres,
    // The isolation level the gap-free log is reasoned about (see the store's module docs),
    // pinned so a server-wide `default_transaction_isolation` cannot change it.
    begin_write: "begin isolation level read committed",
    // Sent as one simple query (no parameters): no extra round trip.
    begin_batch: "begin isolation level read committed; set local synchronous_commit = off",
    // On by default; set explicitly so a server-wide `off` cannot weaken the log's durability.
    // The session timeouts (lock, statement, idle in transaction) travel as startup options in
    // the connection URL instead (see `db::SessionLimits`), so that every session opened from
    // it has them, the pool's as well as the LISTEN and lease connections.
    connection_setup: &[
        "set synchronous_commit = on",
        "set default_transaction_isolation = 'read committed'",
    ],
    json_param: "::jsonb",
    // The writer already holds the log_head row lock; locking the stream rows as well keeps the
    // version check correct even for writers that would not.
    lock_rows: " for update",
    select_events: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data::text, metadata::text, recorded_at_us, tags from events",
    read_stream: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data::text, metadata::text, recorded_at_us, tags from events \
         where stream_id = $1 and version >= $2 order by version limit $3",
    read_all: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data::text, metadata::text, recorded_at_us, tags from events \
         where position > $1 order by position limit $2",
    read_correlated: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data::text, metadata::text, recorded_at_us, tags from events \
         where correlation_id = $1 order by position limit $2",
    save_snapshot: "insert into snapshots (stream_id, version, schema_version, state, taken_at_us) \
         values ($1, $2, $3, $4::jsonb, $5) on conflict (stream_id) do update set \
         version = excluded.version, schema_version = excluded.schema_version, \
         state = excluded.state, taken_at_us = excluded.taken_at_us \
         where excluded.version > snapshots.version \
         or excluded.schema_version <> snapshots.schema_version",
    load_snapshot: "select version, schema_version, state::text from snapshots \
         where stream_id = $1 and schema_version = $2",
    // pg_notify returns void, which the Any driver cannot decode: call it in FROM instead.
    chain_rows: "select position, event_id, stream_id, stream_type, version, event_type, \
         schema_version, data::text, metadata::text, recorded_at_us, tags, hash, prev_hash from events \
         where position > $1 and position <= $2 order by position limit $3",
    notify: Some("select 1::bigint from pg_notify('eventide_events', $1)"),
};
