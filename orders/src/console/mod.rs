//! The operator console's figures that no read model holds, sampled in the background by each
//! instance ([`Console`]): every consumer's (projection's and relay's) lag in seconds, its
//! trend over the last hour, stall detection, and the log's statistics (events per type and
//! stream type, events appended per minute).
//!
//! Why a sampler and not a projection: lag and stalls describe the consumers, not the log, and
//! are only meaningful live; the statistics are counted from the log by position in SQL, in
//! chunks of 250,000 events (one per sample), so a restart recounts a million events in a few
//! seconds instead of keeping another read model in step.
//!
//! - `lag.rs`: one consumer's lag in seconds and the stall rule;
//! - `series.rs`: the per-minute series of the last hour;
//! - `stats.rs`: the statistics folded from the store's counts;
//! - `tree.rs`: the causation tree of one correlation id (built on request, not sampled).

pub mod lag;
pub mod series;
pub mod stats;
pub mod tree;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use domain::console::EventStats;
use domain::views::{ProjectionState, ProjectionStatus, RelayState, RelayStatus};
use eventstore::SqlEventStore;
use eventstore::projection::ProjectionRunner;
use tokio::task::JoinHandle;
use tracing::{Instrument as _, debug, info_span, warn};

use self::lag::LagTrack;
use self::stats::LogStats;
use crate::relay::Relay;

/// Events counted per statistics query (the first count of a large log takes several).
const STATS_CHUNK: i64 = 250_000;

/// How the console samples.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Time between samples.
    pub sample_every: Duration,
    /// Behind and without progress for this long: stalled.
    pub stall_after: Duration,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            sample_every: Duration::from_secs(1),
            stall_after: Duration::from_secs(30),
        }
    }
}

#[derive(Default)]
struct State {
    tracks: HashMap<String, LagTrack>,
    stats: LogStats,
}

/// The console's sampler and its latest figures. Cheap to clone; the sampling task stops when
/// the last clone is dropped.
#[derive(Clone, Default)]
pub struct Console {
    state: Arc<Mutex<State>>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
    config: Arc<Mutex<ConsoleConfig>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The relay's key among the tracks.
const RELAY: &str = "relay";

impl Console {
    /// Starts sampling `runner`, `relay` and `store` (again with a new configuration if it
    /// already runs).
    pub fn start(
        &self,
        config: ConsoleConfig,
        store: SqlEventStore,
        runner: ProjectionRunner,
        relay: Arc<Relay>,
    ) {
        *lock(&self.config) = config.clone();
        let state = Arc::downgrade(&self.state);
        let task = tokio::spawn(
            async move {
                let mut tick = tokio::time::interval(config.sample_every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(state) = state.upgrade() else { break };
                    if let Err(e) = sample(&state, &config, &store, &runner, &relay).await {
                        debug!(error = %e, "console sample failed; trying again next tick");
                    }
                }
            }
            .instrument(info_span!("console")),
        );
        if let Some(old) = lock(&self.task).replace(task) {
            old.abort();
        }
    }

    /// The stall threshold in use.
    pub fn stall_after(&self) -> Duration {
        lock(&self.config).stall_after
    }

    /// `status` with its lag in seconds, trend and stall (state `stalled`) from the last sample.
    pub fn projection(&self, mut status: ProjectionStatus) -> ProjectionStatus {
        let state = lock(&self.state);
        if let Some(track) = state.tracks.get(&status.name) {
            if status.lag > 0 {
                status.lag_seconds = track.seconds;
            }
            status.lag_trend = track.trend.points();
            if track.stalled && may_stall_projection(status.state) && status.lag > 0 {
                status.state = ProjectionState::Stalled;
            }
        }
        status
    }

    /// The relay's `status` with its lag in seconds, trend and stall; a disabled relay shows
    /// the log's head (nothing is published, so nothing is behind).
    pub fn relay(&self, mut status: RelayStatus, head: i64) -> RelayStatus {
        if status.state == RelayState::Disabled {
            status.head = head;
            status.lag = 0;
            return status;
        }
        let state = lock(&self.state);
        if let Some(track) = state.tracks.get(RELAY) {
            if status.lag > 0 {
                status.lag_seconds = track.seconds;
            }
            status.lag_trend = track.trend.points();
            if track.stalled && status.state == RelayState::Connected && status.lag > 0 {
                status.state = RelayState::Stalled;
            }
        }
        status
    }

    /// The log's statistics as of the last sample (`position` says how far they count).
    pub fn stats(&self) -> EventStats {
        lock(&self.state).stats.view(Utc::now())
    }
}

/// States in which being behind is not explained by something the operator already sees.
fn may_stall_projection(state: ProjectionState) -> bool {
    matches!(
        state,
        ProjectionState::Running | ProjectionState::CatchingUp | ProjectionState::Stalled
    )
}

async fn sample(
    state: &Mutex<State>,
    config: &ConsoleConfig,
    store: &SqlEventStore,
    runner: &ProjectionRunner,
    relay: &Relay,
) -> eventstore::StoreResult<()> {
    use eventstore::EventStore as _;
    let projections = runner.status();
    let relay = relay.status();
    // (key, checkpoint, lag, may stall)
    let mut consumers: Vec<(String, i64, i64, bool)> = projections
        .iter()
        .map(|p| {
            let state = crate::status::projection_status(p.clone()).state;
            (
                p.name.clone(),
                p.checkpoint,
                p.lag,
                may_stall_projection(state),
            )
        })
        .collect();
    if relay.state != RelayState::Disabled {
        consumers.push((
            RELAY.to_owned(),
            relay.checkpoint,
            relay.lag,
            relay.state == RelayState::Connected,
        ));
    }
    let mut oldest: Vec<i64> = consumers
        .iter()
        .filter(|(_, _, lag, _)| *lag > 0)
        .map(|(_, checkpoint, _, _)| checkpoint + 1)
        .collect();
    oldest.sort_unstable();
    oldest.dedup();
    let recorded: HashMap<i64, chrono::DateTime<Utc>> =
        store.recorded_at(&oldest).await?.into_iter().collect();
    let head = *store.head_watch().borrow();
    let counted = lock(state).stats.position;
    let upto = head.min(counted.saturating_add(STATS_CHUNK));
    let counts = if upto > counted {
        store.count_events(counted, upto).await?
    } else {
        Vec::new()
    };
    let (now, wall) = (Instant::now(), Utc::now());
    let mut s = lock(state);
    for (key, checkpoint, lag, may_stall) in consumers {
        let was_stalled = s.tracks.get(&key).is_some_and(|t| t.stalled);
        let track = s
            .tracks
            .entry(key.clone())
            .or_insert_with(|| LagTrack::new(checkpoint, now));
        track.sample(
            checkpoint,
            lag,
            recorded.get(&(checkpoint + 1)).copied(),
            may_stall,
            config.stall_after,
            now,
            wall,
        );
        if track.stalled && !was_stalled {
            warn!(consumer = %key, lag, lag_seconds = track.seconds, "consumer stalled");
        }
    }
    if upto > counted && s.stats.position == counted {
        s.stats.add(upto, &counts, wall);
    }
    Ok(())
}
