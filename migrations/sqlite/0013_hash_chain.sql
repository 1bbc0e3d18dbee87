-- The tamper-evident hash chain over the log (see eventstore/src/chain.rs for the format).
--
-- `hash` is SHA-256 over the row's content and `prev_hash`; `prev_hash` is the hash of the row
-- before it (32 zero bytes for position 1). Both are written by the store's single writer in
-- the append itself. Keeping `prev_hash` in every row is what lets verify name the row that
-- changed: a row rewritten with a recomputed hash of its own still checks by itself, but the
-- next row's `prev_hash` no longer matches it.
--
-- Nullable on purpose: rows written before this migration are hashed by the store's backfill
-- at start (from position 1, in order), and rows inserted behind the store's back (or with the
-- chain turned off) have none; verify reports them.
alter table events add column hash blob;
alter table events add column prev_hash blob;

-- Where the backfill resumes: the rows without a hash (none, once the backfill has run and the
-- chain is on), so finding them never scans the log.
create index events_unhashed_idx on events (position) where hash is null;
