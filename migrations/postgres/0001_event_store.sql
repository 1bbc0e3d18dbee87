-- Eventide event store, PostgreSQL dialect.
--
-- Conventions shared with the SQLite schema (the store reads both through sqlx's `Any` driver,
-- which decodes only basic types, strictly):
--   * every integer is BIGINT (never integer/int4: `Any` would refuse to decode it as i64);
--   * ids are TEXT (uuid string), timestamps BIGINT microseconds since the epoch (`*_at_us`);
--   * JSON is JSONB (inserted as `$n::jsonb`, selected as `col::text`); JSONB normalises the
--     text, so the store compares JSON by parsed value, never by string.
--   * stream ids use the "C" collation: byte order, the same order as SQLite's BINARY, so
--     keyset paging and prefix ranges behave identically on both backends.
-- synchronous_commit stays on (set explicitly per connection): an acknowledged append is durable.

-- The single counter that hands out global positions.
--
-- Why not a sequence / identity column: a sequence hands out numbers at insert time but
-- transactions commit in another order, so a reader of `position > checkpoint` can pass 11
-- while 10's transaction is still open and never see 10 (the late-commit bug Marten, Eventuous,
-- Emmett and others shipped). Instead every append transaction does
-- `update log_head set position = position + n returning position`: the row lock is held until
-- commit, so commits that take positions are serialised (across processes too), positions are
-- contiguous and become visible in commit order. Readers simply use
-- `where position > $1 order by position`. This trades writer parallelism for gap-freedom; the
-- store's group commit (one writer task, many appends per transaction) wins it back.
create table log_head (
    id       bigint primary key check (id = 1), -- exactly one row
    position bigint not null                    -- last position handed out (0 = empty log)
);
insert into log_head (id, position) values (1, 0);

-- The global log. One row per event, never updated or deleted.
create table events (
    -- global position, 1-based, contiguous, in commit order (see log_head).
    position       bigint primary key,
    -- client-chosen UUID v7; unique so a retried append is recognised (idempotency) instead of
    -- written twice.
    event_id       text   not null,
    stream_id      text   collate "C" not null,
    -- aggregate type of the stream, denormalised so projections can filter without a join.
    stream_type    text   not null,
    -- 1-based, contiguous within the stream.
    version        bigint not null,
    event_type     text   not null,
    -- shape version of `data`; older shapes are upcast at read time.
    schema_version bigint not null,
    data           jsonb  not null,
    metadata       jsonb  not null, -- correlation, causation, user, extra
    -- copied out of metadata so read_correlated can use an index.
    correlation_id text,
    recorded_at_us bigint not null,
    constraint events_event_id_key unique (event_id),
    -- The concurrency backstop: two writers can never both store version n of a stream.
    -- Also serves read_stream (`stream_id = $1 and version >= $2`).
    constraint events_stream_version_key unique (stream_id, version)
);

-- read_correlated: all events of one user action, in position order.
create index events_correlation_idx on events (correlation_id, position)
    where correlation_id is not null;

-- One row per stream: its current version, locked (`select ... for update`) by every append,
-- and the stream browser's table (filter by type, keyset paging by id).
create table streams (
    stream_id     text   collate "C" primary key,
    stream_type   text   not null,
    version       bigint not null, -- = number of events, versions are contiguous from 1
    created_at_us bigint not null,
    updated_at_us bigint not null  -- time of the last append (last_event_at)
);

-- list_streams filtered by type, ordered by id.
create index streams_type_idx on streams (stream_type, stream_id);

-- Latest snapshot per stream. `schema_version` is the snapshot format's own version: a
-- snapshot written by older code is treated as absent and rewritten.
create table snapshots (
    stream_id      text   collate "C" primary key,
    version        bigint not null, -- stream version the state includes
    schema_version bigint not null,
    state          jsonb  not null,
    taken_at_us    bigint not null
);

-- Position up to which a named consumer (projection, relay) has processed the log. Written in
-- the same transaction as the consumer's own changes, so effects are exactly-once.
create table checkpoints (
    name          text   primary key,
    position      bigint not null,
    updated_at_us bigint not null
);
