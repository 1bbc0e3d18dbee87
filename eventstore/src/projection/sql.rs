//! SQL of the projection runner (tables in `migrations/*/0002_projections.sql`). Every statement
//! is accepted verbatim by SQLite and PostgreSQL.

/// $1 = name, $2 = now_us. Generation 1 for a projection seen for the first time.
pub(crate) const ENSURE_PROJECTION: &str = "insert into projections \
     (name, generation, rebuild_generation, updated_at_us) values ($1, 1, null, $2) \
     on conflict (name) do nothing";

/// Subquery naming the live generation of projection `$1`, for read-model queries:
/// `format!("select ... where generation = {LIVE_GENERATION}")`. Defined once, here: read-model
/// queries build on this constant instead of spelling the subquery out.
pub const LIVE_GENERATION: &str = "(select generation from projections where name = $1)";

/// $1 = name -> (generation, rebuild_generation).
pub(crate) const LOAD_PROJECTION: &str =
    "select generation, rebuild_generation from projections where name = $1";

/// $1 = name, $2 = now_us -> the claimed rebuild generation; no row when a rebuild already runs.
/// The condition makes the claim atomic, also between instances.
pub(crate) const CLAIM_REBUILD: &str = "update projections \
     set rebuild_generation = generation + 1, updated_at_us = $2 \
     where name = $1 and rebuild_generation is null returning rebuild_generation";

/// $1 = rebuilt generation, $2 = now_us, $3 = name. The atomic swap.
pub(crate) const SWAP_GENERATION: &str = "update projections \
     set generation = $1, rebuild_generation = null, updated_at_us = $2 \
     where name = $3 and rebuild_generation = $1";

/// $1 = checkpoint name.
pub(crate) const DELETE_CHECKPOINT: &str = "delete from checkpoints where name = $1";

/// $1 = checkpoint name prefix (`projection:{name}:`) -> names. `substr` instead of `like`:
/// projection names may contain `_`.
pub(crate) const LIST_CHECKPOINTS: &str =
    "select name from checkpoints where substr(name, 1, length($1)) = $1";

/// $1 = projection, $2 = generation, $3 = event_id, $4 = position, $5 = event_type, $6 = error,
/// $7 = attempts, $8 = failed_at_us.
pub(crate) const INSERT_DEAD_LETTER: &str = "insert into projection_dead_letters \
     (projection, generation, event_id, position, event_type, error, attempts, failed_at_us) \
     values ($1, $2, $3, $4, $5, $6, $7, $8)";

/// $1 = projection -> the open fault.
pub(crate) const OPEN_DEAD_LETTER: &str = "select id, generation, event_id, position, \
     event_type, error, attempts, failed_at_us from projection_dead_letters \
     where projection = $1 and resolution is null";

/// $1 = projection, $2 = now_us, $3 = resolved_by.
pub(crate) const RETRY_DEAD_LETTER: &str = "update projection_dead_letters \
     set resolution = 'retried', resolved_at_us = $2, resolved_by = $3 \
     where projection = $1 and resolution is null";

/// $1 = id, $2 = reason, $3 = resolved_by, $4 = now_us.
pub(crate) const SKIP_DEAD_LETTER: &str = "update projection_dead_letters \
     set resolution = 'skipped', reason = $2, resolved_by = $3, resolved_at_us = $4 \
     where id = $1 and resolution is null";

/// The name of the checkpoint of one generation of a projection.
pub(crate) fn checkpoint_name(projection: &str, generation: i64) -> String {
    format!("projection:{projection}:{generation}")
}

/// The prefix shared by every generation's checkpoint of a projection.
pub(crate) fn checkpoint_prefix(projection: &str) -> String {
    format!("projection:{projection}:")
}

/// $1 = checkpoint name, $2 = expected position, $3 = new position, $4 = now_us. The fenced
/// checkpoint move of a batch: no row updated means another instance moved it (the batch rolls
/// back), so no event is applied twice even if two runners briefly overlap.
pub(crate) const ADVANCE_CHECKPOINT: &str = "update checkpoints \
     set position = $3, updated_at_us = $4 where name = $1 and position = $2";

/// $1 = checkpoint name, $2 = position, $3 = now_us. First checkpoint of a generation.
pub(crate) const INSERT_CHECKPOINT: &str = "insert into checkpoints (name, position, updated_at_us) \
     values ($1, $2, $3) on conflict (name) do nothing";

/// The PostgreSQL channel of cross-instance projection notices (batches applied, wake-ups).
pub const NOTICE_CHANNEL: &str = "eventide_projections";

/// PostgreSQL only: `payload` as a notice on [`NOTICE_CHANNEL`], delivered at commit (at once
/// outside a transaction). `pg_notify` returns void, which the `Any` driver cannot decode:
/// called in `from`.
pub(crate) fn notify(
    payload: &str,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query("select 1::bigint from pg_notify($1, $2)")
        .bind(NOTICE_CHANNEL)
        .bind(payload)
}

/// The lease a projection's runner holds while it runs.
pub(crate) fn lease_name(projection: &str) -> String {
    format!("projection:{projection}")
}

/// $1 = position -> (event_id, stream_id, stream_type, version, event_type, schema_version) of
/// the event there, without its data: the identity of an event the store cannot decode.
pub(crate) const EVENT_IDENTITY: &str = "select event_id, stream_id, stream_type, version, \
     event_type, schema_version from events where position = $1";
