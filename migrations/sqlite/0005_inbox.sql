-- The reference broker consumer's inbox (orders::relay::consumer), SQLite dialect.
--
-- A service that consumes Eventide's events from JetStream gets an exactly-once effect by
-- recording every event id it applied in the same transaction as its own changes, inserting
-- with `on conflict (event_id) do nothing`, and acknowledging the broker message only after the
-- commit. A redelivered or re-published message then finds its id here and changes nothing.
-- Conventions as in 0001: ids TEXT, integers INTEGER, timestamps microseconds (`*_at_us`).
create table inbox (
    event_id       text    primary key, -- the envelope's event id (= the Nats-Msg-Id header)
    stream_id      text    not null,
    version        integer not null,    -- the event's version within its stream
    position       integer not null,    -- the event's position in the global log
    event_type     text    not null,
    received_at_us integer not null     -- when this consumer applied it
) without rowid;

-- Per-stream lookups in version order (e.g. a consumer checking it applies a stream in order).
create index inbox_stream_idx on inbox (stream_id, version);
