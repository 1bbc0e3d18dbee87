//! Placements per minute (`rm_dash_minutes`), the dashboard's one counter. Old minutes are
//! pruned at positions fixed by the log (every [`PRUNE_EVERY`]th position, on a placement), so
//! the live model equals a replay (checked by the replay tests).

use std::collections::BTreeMap;

use anyhow::Context as _;
use eventstore::RecordedEvent;
use sqlx::AnyConnection;

use crate::projections::{at_us, write_rows};

/// Microseconds per minute: `minute = recorded_at_us / MINUTE_US`.
pub const MINUTE_US: i64 = 60_000_000;
/// Minutes of placements kept behind the newest one (the dashboard shows 60).
const KEEP_MINUTES: i64 = 120;
/// Old minutes are pruned on placements at positions that are multiples of this.
const PRUNE_EVERY: i64 = 16;

/// Placements per minute over one batch, written by [`MinuteCounts::flush`] with the effect of
/// counting each placement on its own (one more in its minute; on every [`PRUNE_EVERY`]th
/// position, minutes older than [`KEEP_MINUTES`] before it deleted): each prune deletes every
/// minute below its cut, so the batch's highest cut is one delete, and counts below a cut seen
/// earlier restart from zero.
#[derive(Debug, Default)]
pub(super) struct MinuteCounts {
    /// Highest prune cut of the batch so far: minutes below it are deleted.
    cut: Option<i64>,
    /// minute -> (placements in this batch, whether the stored row was deleted first).
    counts: BTreeMap<i64, (i64, bool)>,
}

impl MinuteCounts {
    /// Counts the placement `event`.
    pub(super) fn count(&mut self, event: &RecordedEvent) {
        let minute = at_us(event).div_euclid(MINUTE_US);
        let cut = self.cut;
        let entry = self
            .counts
            .entry(minute)
            .or_insert((0, cut.is_some_and(|c| minute < c)));
        entry.0 += 1;
        // Pruning depends on the position only, so a replay prunes at the same points.
        if event.position % PRUNE_EVERY == 0 {
            let c = minute - KEEP_MINUTES;
            self.counts.retain(|m, _| *m >= c);
            self.cut = Some(self.cut.map_or(c, |old| old.max(c)));
        }
    }

    pub(super) async fn flush(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        if let Some(cut) = self.cut {
            sqlx::query("delete from rm_dash_minutes where generation = $1 and minute < $2")
                .bind(generation)
                .bind(cut)
                .execute(&mut *tx)
                .await
                .context("pruning minutes")?;
        }
        for restarted in [false, true] {
            let rows: Vec<(i64, i64)> = self
                .counts
                .iter()
                .filter(|(_, (_, r))| *r == restarted)
                .map(|(m, (n, _))| (*m, *n))
                .collect();
            let conflict = if restarted {
                " on conflict (generation, minute) do update set placed = excluded.placed"
            } else {
                " on conflict (generation, minute) do update \
                 set placed = rm_dash_minutes.placed + excluded.placed"
            };
            write_rows(
                tx,
                "insert into rm_dash_minutes (generation, minute, placed) values ",
                3,
                conflict,
                &rows,
                |query, &(minute, placed)| query.bind(generation).bind(minute).bind(placed),
            )
            .await
            .context("counting placements per minute")?;
        }
        Ok(())
    }
}
