-- Idempotency keys of the command service (orders::command::idempotency), PostgreSQL dialect.
--
-- A client may send an idempotency key with a command. The first successful execution stores
-- one row here, right after its events were appended; a later command with the same key and
-- the same request returns the stored result and writes nothing, a different request with the
-- same key is rejected. Rows live in the database, so keys survive a restart.
--
-- Conventions as in 0001: every integer is BIGINT (the Any driver decodes i64 strictly), ids
-- are TEXT, timestamps BIGINT microseconds since the epoch.
create table idempotency_keys (
    -- the client's key, as sent (1..=200 characters).
    key            text   primary key,
    -- canonical text of the request (aggregate type, aggregate id and the command's inputs as
    -- JSON or Debug text); compared as text to tell a replay from a reused key.
    request_hash   text   not null,
    -- the stream the command's events were appended to.
    stream_id      text   collate "C" not null,
    -- stream version after the append (version of the command's last event).
    version        bigint not null,
    -- global position of the command's last event (AppendResult.last_position).
    position       bigint not null,
    -- how many events the command appended (versions version - event_count + 1 ..= version);
    -- lets a replay return the original events.
    event_count    bigint not null,
    created_at_us  bigint not null
);
