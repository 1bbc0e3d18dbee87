-- Eventide event store, SQLite dialect.
--
-- Conventions shared with the PostgreSQL schema (the store reads both through sqlx's `Any`
-- driver, which only knows basic types):
--   * ids are TEXT (uuid in its hyphenated string form);
--   * timestamps are INTEGER microseconds since the Unix epoch (`*_at_us`), never SQLite's
--     text dates, so ordering and arithmetic are exact and identical on both backends;
--   * JSON is TEXT here (JSONB on PostgreSQL); the store compares JSON by parsed value.
-- The connection runs with journal_mode=WAL and synchronous=FULL: NORMAL can lose the last
-- commits on power loss, and the log is the source of truth.

-- The single counter that hands out global positions. Every append transaction does
-- `update log_head set position = position + n returning position`; SQLite has one writer
-- at a time anyway, so positions are contiguous and become visible in commit order.
create table log_head (
    id       integer primary key check (id = 1), -- exactly one row
    position integer not null                    -- last position handed out (0 = empty log)
);
insert into log_head (id, position) values (1, 0);

-- The global log. One row per event, never updated or deleted.
create table events (
    -- global position, 1-based, contiguous, in commit order. INTEGER PRIMARY KEY makes it the
    -- rowid, so `where position > ? order by position` walks the table itself.
    position       integer primary key,
    -- client-chosen UUID v7; unique so a retried append is recognised (idempotency) instead of
    -- written twice.
    event_id       text    not null unique,
    stream_id      text    not null,
    -- aggregate type of the stream, denormalised so projections can filter without a join.
    stream_type    text    not null,
    -- 1-based, contiguous within the stream.
    version        integer not null,
    event_type     text    not null,
    -- shape version of `data`; older shapes are upcast at read time.
    schema_version integer not null,
    data           text    not null, -- JSON
    metadata       text    not null, -- JSON (correlation, causation, user, extra)
    -- copied out of metadata so read_correlated can use an index.
    correlation_id text,
    recorded_at_us integer not null,
    -- The concurrency backstop: two writers can never both store version n of a stream.
    -- Also serves read_stream (`stream_id = ? and version >= ?`).
    unique (stream_id, version)
);

-- read_correlated: all events of one user action, in position order. Partial: most tooling
-- events without correlation do not bloat it.
create index events_correlation_idx on events (correlation_id, position)
    where correlation_id is not null;

-- One row per stream: its current version, read (and on PostgreSQL locked) by every append,
-- and the stream browser's table (filter by type, keyset paging by id).
create table streams (
    stream_id     text    primary key,
    stream_type   text    not null,
    version       integer not null, -- = number of events, versions are contiguous from 1
    created_at_us integer not null,
    updated_at_us integer not null  -- time of the last append (last_event_at)
) without rowid;

-- list_streams filtered by type, ordered by id.
create index streams_type_idx on streams (stream_type, stream_id);

-- Latest snapshot per stream. `schema_version` is the snapshot format's own version: a
-- snapshot written by older code is treated as absent and rewritten.
create table snapshots (
    stream_id      text    primary key,
    version        integer not null, -- stream version the state includes
    schema_version integer not null,
    state          text    not null, -- JSON
    taken_at_us    integer not null
) without rowid;

-- Position up to which a named consumer (projection, relay) has processed the log. Written in
-- the same transaction as the consumer's own changes, so effects are exactly-once.
create table checkpoints (
    name          text    primary key,
    position      integer not null,
    updated_at_us integer not null
) without rowid;
