-- Projection runner state, SQLite dialect (see eventstore/src/projection/).
--
-- Same conventions as 0001: integers are INTEGER (decoded as i64), ids TEXT, timestamps
-- INTEGER microseconds since the epoch (`*_at_us`).

-- One row per projection: which generation of its read tables is LIVE.
--
-- Every row a projection writes carries a `generation`; queries read
--   `where generation = (select generation from projections where name = $1)`
-- so switching a rebuilt generation in is ONE update of this row, committed together with the
-- rebuild's last batch: atomic for every reader, also on other instances. The previous
-- generation's rows are deleted after the swap.
create table projections (
    name               text    primary key,
    -- the generation queries read; starts at 1.
    generation         integer not null default 1,
    -- the generation being rebuilt beside the live one, null when no rebuild runs. Persisted so
    -- a rebuild interrupted by a crash resumes from its checkpoint on the next start, and so a
    -- second concurrent rebuild is refused by a conditional update (`where rebuild_generation
    -- is null`), which holds across instances too.
    rebuild_generation integer,
    updated_at_us      integer not null
) without rowid;

-- Events a projection could not apply after all its retries (poison events). The projection
-- stops at such an event until an operator retries it or skips it; nothing is skipped silently,
-- and the resolution stays here as an audit trail.
create table projection_dead_letters (
    id             integer primary key, -- rowid: insertion order
    projection     text    not null,
    -- the generation whose apply failed (a rebuild can fault too).
    generation     integer not null,
    event_id       text    not null,
    position       integer not null,
    event_type     text    not null,
    error          text    not null, -- the last error, with its cause chain
    attempts       integer not null,
    failed_at_us   integer not null,
    -- null while the projection is faulted on this event.
    resolution     text check (resolution in ('retried', 'skipped')),
    reason         text,    -- why it was skipped (required by the skip API)
    resolved_by    text,    -- who skipped it
    resolved_at_us integer
);

-- A projection is faulted on at most one event at a time; this is also the runner's lookup of
-- the open fault.
create unique index projection_dead_letters_open_idx on projection_dead_letters (projection)
    where resolution is null;

-- The admin panel's history per projection, newest first.
create index projection_dead_letters_history_idx on projection_dead_letters (projection, id);
