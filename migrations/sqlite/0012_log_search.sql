-- The operator's event browser: the whole log searched by stream type, acting user and time
-- (event type and correlation already have `events_type_idx` and `events_correlation_idx`;
-- a stream id prefix uses the primary `(stream_id, version)` index). Every index ends with the
-- position, so a filtered page newest-first or oldest-first is an index range walked in order
-- and stopped after one page (keyset paging, never an offset).
create index events_stream_type_idx on events (stream_type, position);

-- The acting user is a field of the metadata JSON (`->>` means the same on SQLite >= 3.38 and
-- PostgreSQL); an index on the expression avoids a copy of it in every row.
create index events_user_idx on events ((metadata ->> 'user_id'), position)
    where (metadata ->> 'user_id') is not null;

-- A time range becomes a position range through this index (positions are handed out in
-- commit order by the single writer, and `recorded_at_us` is stamped there too), and the
-- console's appends per minute of the last hour read it.
create index events_recorded_at_idx on events (recorded_at_us, position);

-- A stream filter given as the short id lists show (the last 8 characters of the stream's
-- UUID) is looked up here instead of scanning every stream. The expression is word for word
-- the one the lookup uses.
create index streams_short_id_idx on streams (substr(stream_id, length(stream_id) - 7));

-- A correlation id given as the short id lists show (its last 8 characters: a UUID's text is
-- 36 characters, so they start at the 29th). The expression is word for word the one the
-- search uses.
create index events_correlation_short_idx on events (substr(correlation_id, 29), position);
