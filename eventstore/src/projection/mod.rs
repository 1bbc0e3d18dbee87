//! Projections: read models fed asynchronously from the global log. The runner reads batches from
//! a checkpoint, applies them and advances the checkpoint in one transaction, isolates poison
//! events, and rebuilds a fresh generation beside the live one with an atomic swap.
//!
//! Read `runner/mod.rs` first. Queries of a read model read the live generation through the
//! `projections` row, so a swap is atomic for every reader:
//! `format!("select ... from my_table where generation = {LIVE_GENERATION}")`
//! (see [`LIVE_GENERATION`]).

mod log_cache;
mod runner;
pub(crate) mod sql;
mod status;

pub use runner::{DeadLetter, ProjectionRunner, RebuildStarted, RunnerConfig, RunnerError};
pub use sql::{LIVE_GENERATION, NOTICE_CHANNEL};
pub use status::{BatchApplied, FaultInfo, ProjectionState, ProjectionStatusInfo, RebuildProgress};

use async_trait::async_trait;
use sqlx::AnyConnection;

use crate::envelope::RecordedEvent;

/// A read model. Every row it writes carries the `generation` it belongs to, so a rebuild can fill
/// generation `g + 1` while queries keep reading generation `g` (the `projections` table names the
/// live one).
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Stable name: checkpoint key, admin panel, API path (`/api/projections/{name}`).
    fn name(&self) -> &'static str;

    /// Whether [`apply`](Self::apply) would change anything for `event` (by default: every
    /// event). Events it does not handle are checkpointed but neither applied nor announced: a
    /// batch with none it handles publishes no change to live clients.
    fn handles(&self, event: &RecordedEvent) -> bool {
        let _ = event;
        true
    }

    /// Applies one event to the rows of `generation`, inside the runner's transaction. An error
    /// rolls the batch back; the runner retries and, if it persists, faults the projection.
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()>;

    /// Applies a batch of events this projection handles, in log order, inside the runner's
    /// transaction. The default applies them one by one; a projection may override it to fold
    /// the batch in memory and write each touched row once (rebuilds and catch-ups then run at
    /// bulk speed). It must leave exactly the rows that applying the events one by one leaves.
    /// On an error the runner rolls the batch back and applies it event by event, to find (and
    /// fault on) the failing event.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        events: &[&RecordedEvent],
    ) -> anyhow::Result<()> {
        for event in events {
            self.apply(tx, generation, event).await?;
        }
        Ok(())
    }

    /// Deletes every row of `generation` (the old one after a swap, or an abandoned rebuild).
    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()>;

    /// Deletes at most `limit` rows of `generation` (no generation that queries read) and
    /// answers how many it deleted, 0 once none is left. On SQLite the runner drops an old
    /// generation with this, each chunk in its own short transaction and write turn, so the
    /// store's appends and the other projections take their turns in between instead of
    /// waiting behind (or, from another connection, failing on) one long delete. The default
    /// deletes everything at once through [`Projection::drop_generation`]; a read model that can
    /// grow large should override it.
    async fn drop_generation_chunk(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
        limit: u64,
    ) -> anyhow::Result<u64> {
        let _ = limit;
        self.drop_generation(conn, generation).await?;
        Ok(0)
    }
}
