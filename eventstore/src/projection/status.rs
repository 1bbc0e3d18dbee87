//! What the runner reports: per-projection status (admin panel, `/api/projections`), the
//! notification sent after each applied batch, and the sliding-window rate behind `events/s`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Lifecycle state of one projection, derived from its status at the moment it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionState {
    /// Within one batch of the head, following live commits.
    Running,
    /// More than one batch behind the head.
    CatchingUp,
    /// A new generation is being built beside the live one (which keeps updating).
    Rebuilding,
    /// Halted on a poison event until an operator retries or skips it.
    Faulted,
    /// Its task has ended (runner shut down).
    Stopped,
    /// Another instance holds this projection's lease and runs it; this one follows its
    /// checkpoint (the status's `instance` names the holder).
    Standby,
}

/// Status of one projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectionStatusInfo {
    pub name: String,
    pub state: ProjectionState,
    /// The live generation (the one queries read).
    pub generation: i64,
    /// Position the live generation has applied up to.
    pub checkpoint: i64,
    /// Committed head of the log.
    pub head: i64,
    /// `head - checkpoint`.
    pub lag: i64,
    /// Live events applied per second over the last few seconds.
    pub events_per_sec: f64,
    /// Last error seen (apply or storage), also after recovery.
    pub last_error: Option<String>,
    pub fault: Option<FaultInfo>,
    pub rebuild: Option<RebuildProgress>,
    /// The instance running this projection: this runner's, or the lease holder's when
    /// `state` is `Standby`.
    pub instance: String,
}

/// The poison event a projection halted on (its open dead letter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultInfo {
    /// The generation whose apply failed (the rebuild generation if the rebuild faulted).
    pub generation: i64,
    pub event_id: Uuid,
    pub position: i64,
    pub event_type: String,
    pub error: String,
    pub attempts: i64,
    pub failed_at: DateTime<Utc>,
}

/// Progress of a running rebuild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebuildProgress {
    /// The generation being built.
    pub generation: i64,
    /// Events applied to it so far (its checkpoint: positions are contiguous from 1).
    pub processed: i64,
    /// Events to process: the current head.
    pub total: i64,
    pub events_per_sec: f64,
    /// `(total - processed) / events_per_sec`; none until a rate is known.
    pub eta_secs: Option<f64>,
}

/// Sent after each committed live batch so listeners (websockets) can refetch what changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchApplied {
    pub projection: String,
    pub generation: i64,
    pub first_position: i64,
    pub last_position: i64,
    /// Distinct stream ids of the batch's events the projection handles, in first-seen order
    /// (empty when it handled none: nothing changed).
    pub streams: Vec<String>,
    pub event_count: usize,
    /// True for the single notification after a rebuild's swap: any row may have changed
    /// (`streams` is empty, `first_position..=last_position` spans the whole log).
    pub swapped: bool,
}

/// Events per second over a sliding window.
#[derive(Debug)]
pub(crate) struct RateMeter {
    started: Instant,
    samples: VecDeque<(Instant, u64)>,
}

const RATE_WINDOW: Duration = Duration::from_secs(10);

impl RateMeter {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            samples: VecDeque::new(),
        }
    }

    pub(crate) fn record(&mut self, count: u64) {
        let now = Instant::now();
        self.samples.push_back((now, count));
        self.expire(now);
    }

    pub(crate) fn per_sec(&self) -> f64 {
        let now = Instant::now();
        let from = now.checked_sub(RATE_WINDOW).unwrap_or(self.started);
        let total: u64 = self
            .samples
            .iter()
            .filter(|(at, _)| *at >= from)
            .map(|(_, n)| n)
            .sum();
        // Young meters divide by their age, not by the full window.
        let span = now.duration_since(self.started.max(from)).as_secs_f64();
        if total == 0 || span <= 0.0 {
            0.0
        } else {
            total as f64 / span.max(0.001)
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.samples.front() {
            if now.duration_since(*at) > RATE_WINDOW {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_zero_without_samples_and_positive_with_them() {
        let mut meter = RateMeter::new();
        assert_eq!(meter.per_sec(), 0.0);
        meter.record(100);
        assert!(meter.per_sec() > 0.0);
    }

    #[test]
    fn state_serialises_snake_case() {
        let json = serde_json::to_string(&ProjectionState::CatchingUp).ok();
        assert_eq!(json.as_deref(), Some("\"catching_up\""));
    }
}
