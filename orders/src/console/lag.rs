//! One consumer's (a projection's or the relay's) lag in seconds and stall detection.
//!
//! Stalled means: behind the head, no checkpoint move for at least the threshold, and the
//! oldest unapplied event at least that old. "No move" is counted from the last sample that saw
//! the consumer move, caught up, or in a state that explains being behind (faulted, rebuilding,
//! standby, broker unreachable): a projection retried after a long fault starts afresh. The age
//! of the oldest event keeps a consumer that was sampled just before a burst (or whose sampler
//! started late) from being called stalled by the clock of the sampler alone.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::series::LagSeries;

/// What the monitor keeps per consumer.
#[derive(Debug, Clone)]
pub struct LagTrack {
    checkpoint: i64,
    progressed_at: Instant,
    /// Age of the oldest unapplied event at the last sample.
    pub seconds: f64,
    /// Whether the last sample found it stalled.
    pub stalled: bool,
    pub trend: LagSeries,
}

impl LagTrack {
    /// A consumer first seen at `checkpoint`.
    pub fn new(checkpoint: i64, now: Instant) -> Self {
        Self {
            checkpoint,
            progressed_at: now,
            seconds: 0.0,
            stalled: false,
            trend: LagSeries::default(),
        }
    }

    /// One sample: the consumer is at `checkpoint`, `lag` events behind; `oldest` is when the
    /// first unapplied event was recorded. `may_stall` is false in states that explain being
    /// behind (faulted, rebuilding its new generation, standby, broker unreachable).
    #[allow(clippy::too_many_arguments)]
    pub fn sample(
        &mut self,
        checkpoint: i64,
        lag: i64,
        oldest: Option<DateTime<Utc>>,
        may_stall: bool,
        stall_after: Duration,
        now: Instant,
        wall: DateTime<Utc>,
    ) {
        if checkpoint != self.checkpoint || lag == 0 || !may_stall {
            self.checkpoint = checkpoint;
            self.progressed_at = now;
        }
        self.seconds = match (lag, oldest) {
            (0, _) | (_, None) => 0.0,
            (_, Some(at)) => ((wall - at).num_milliseconds().max(0) as f64) / 1000.0,
        };
        self.stalled = may_stall
            && lag > 0
            && now.duration_since(self.progressed_at) >= stall_after
            && self.seconds >= stall_after.as_secs_f64();
        self.trend.record(wall, lag, self.seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(30);

    #[test]
    fn behind_without_progress_for_the_threshold_is_stalled() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let mut track = LagTrack::new(10, t0);
        let old = wall - chrono::Duration::seconds(40);
        track.sample(
            10,
            5,
            Some(old),
            true,
            STALL,
            t0 + Duration::from_secs(10),
            wall,
        );
        assert!(!track.stalled, "not yet long enough without progress");
        track.sample(
            10,
            5,
            Some(old),
            true,
            STALL,
            t0 + Duration::from_secs(31),
            wall,
        );
        assert!(track.stalled);
        assert!(track.seconds >= 40.0);
        track.sample(
            12,
            3,
            Some(old),
            true,
            STALL,
            t0 + Duration::from_secs(32),
            wall,
        );
        assert!(!track.stalled, "progress clears the stall");
    }

    #[test]
    fn a_fresh_event_after_a_long_idle_time_is_not_a_stall() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let mut track = LagTrack::new(10, t0);
        track.sample(
            10,
            1,
            Some(wall),
            true,
            STALL,
            t0 + Duration::from_secs(3600),
            wall,
        );
        assert!(!track.stalled);
    }

    #[test]
    fn a_long_fault_does_not_count_as_time_without_progress() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let mut track = LagTrack::new(10, t0);
        let old = wall - chrono::Duration::seconds(400);
        track.sample(
            10,
            5,
            Some(old),
            false,
            STALL,
            t0 + Duration::from_secs(300),
            wall,
        );
        // Retried: running again, not yet moved.
        track.sample(
            10,
            5,
            Some(old),
            true,
            STALL,
            t0 + Duration::from_secs(301),
            wall,
        );
        assert!(!track.stalled);
        track.sample(
            10,
            5,
            Some(old),
            true,
            STALL,
            t0 + Duration::from_secs(332),
            wall,
        );
        assert!(track.stalled, "no move for the threshold after the retry");
    }

    #[test]
    fn an_explained_state_is_never_stalled() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let mut track = LagTrack::new(10, t0);
        let old = wall - chrono::Duration::seconds(400);
        track.sample(
            10,
            5,
            Some(old),
            false,
            STALL,
            t0 + Duration::from_secs(400),
            wall,
        );
        assert!(!track.stalled);
        track.sample(
            10,
            0,
            None,
            true,
            STALL,
            t0 + Duration::from_secs(401),
            wall,
        );
        assert_eq!(track.seconds, 0.0);
    }
}
