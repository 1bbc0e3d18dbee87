-- Idempotency keys of the command service (orders::command::idempotency), SQLite dialect.
--
-- A client may send an idempotency key with a command. The first successful execution stores
-- one row here, right after its events were appended; a later command with the same key and
-- the same request returns the stored result and writes nothing, a different request with the
-- same key is rejected. Rows live in the database, so keys survive a restart.
--
-- Conventions as in 0001: text ids, integer (64-bit) numbers, microsecond timestamps.
create table idempotency_keys (
    -- the client's key, as sent (1..=200 characters).
    key            text    primary key,
    -- canonical text of the request (aggregate type, aggregate id and the command's inputs as
    -- JSON or Debug text); compared as text to tell a replay from a reused key.
    request_hash   text    not null,
    -- the stream the command's events were appended to.
    stream_id      text    not null,
    -- stream version after the append (version of the command's last event).
    version        integer not null,
    -- global position of the command's last event (AppendResult.last_position).
    position       integer not null,
    -- how many events the command appended (versions version - event_count + 1 ..= version);
    -- lets a replay return the original events.
    event_count    integer not null,
    created_at_us  integer not null
) without rowid;
