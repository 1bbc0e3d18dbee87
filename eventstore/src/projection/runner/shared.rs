//! What a projection's task and the runner's API share: the status shown to operators, the
//! live checkpoint watch (`wait_for`) and the wake-up channel of operator commands.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::config::RunnerConfig;
use crate::projection::Projection;
use crate::projection::status::{
    FaultInfo, ProjectionState, ProjectionStatusInfo, RateMeter, RebuildProgress,
};

/// What the task and the API share about one projection.
pub(super) struct Shared {
    pub(super) projection: Arc<dyn Projection>,
    pub(super) name: &'static str,
    pub(super) status: Mutex<Status>,
    /// The live checkpoint, for `wait_for` (monotonic).
    pub(super) checkpoint: watch::Sender<i64>,
    /// Bumped by operator commands: the task reloads its persisted state.
    pub(super) wake: watch::Sender<u64>,
}

pub(super) struct Status {
    pub(super) generation: i64,
    pub(super) checkpoint: i64,
    pub(super) rebuild: Option<RebuildStatus>,
    pub(super) fault: Option<FaultInfo>,
    pub(super) last_error: Option<String>,
    pub(super) stopped: bool,
    /// The task died of a panic outside `apply` (shown as Faulted, with the message in
    /// `last_error`); nothing runs this projection here until a restart.
    pub(super) crashed: bool,
    /// `Some(holder)` while another instance holds the lease.
    pub(super) standby: Option<String>,
    pub(super) rate: RateMeter,
}

pub(super) struct RebuildStatus {
    pub(super) generation: i64,
    pub(super) checkpoint: i64,
    pub(super) rate: RateMeter,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(super) fn status(&self) -> MutexGuard<'_, Status> {
        lock(&self.status)
    }

    pub(super) fn publish_checkpoint(&self, position: i64) {
        self.checkpoint.send_if_modified(|current| {
            if position > *current {
                *current = position;
                true
            } else {
                false
            }
        });
    }

    pub(super) fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) fn info(&self, head: i64, config: &RunnerConfig) -> ProjectionStatusInfo {
        let s = self.status();
        let lag = (head - s.checkpoint).max(0);
        let state = if s.crashed {
            ProjectionState::Faulted
        } else if s.stopped {
            ProjectionState::Stopped
        } else if s.standby.is_some() {
            ProjectionState::Standby
        } else if s.fault.is_some() {
            ProjectionState::Faulted
        } else if s.rebuild.is_some() {
            ProjectionState::Rebuilding
        } else if lag > i64::from(config.batch_size) {
            ProjectionState::CatchingUp
        } else {
            ProjectionState::Running
        };
        let rebuild = s.rebuild.as_ref().map(|r| {
            let total = head.max(r.checkpoint);
            let events_per_sec = r.rate.per_sec();
            RebuildProgress {
                generation: r.generation,
                processed: r.checkpoint,
                total,
                events_per_sec,
                eta_secs: (events_per_sec > 0.0)
                    .then(|| (total - r.checkpoint) as f64 / events_per_sec),
            }
        });
        ProjectionStatusInfo {
            name: self.name.to_owned(),
            state,
            generation: s.generation,
            checkpoint: s.checkpoint,
            head,
            lag,
            events_per_sec: s.rate.per_sec(),
            last_error: s.last_error.clone(),
            fault: s.fault.clone(),
            rebuild,
            instance: s.standby.clone().unwrap_or_else(|| config.instance.clone()),
        }
    }
}
