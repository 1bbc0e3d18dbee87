//! [`RunnerConfig`]: the runner's tuning (batch size, retry policy, instance name), apart from
//! the code that follows it.

use std::time::Duration;

/// Tuning of a [`ProjectionRunner`](super::ProjectionRunner).
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Events per batch (one transaction each).
    pub batch_size: u32,
    /// Attempts on one event before it is dead-lettered and the projection faults.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles per attempt.
    pub backoff_base: Duration,
    /// Upper bound of the delay.
    pub backoff_cap: Duration,
    /// Names this process in status reports.
    pub instance: String,
    /// How long the checkpoint of batches the projection handles none of may stay in memory
    /// before it is written (see `task/deferred.rs`); `Duration::ZERO` writes every batch.
    pub checkpoint_defer: Duration,
    /// Test hook: the named projection's task keeps its lease but applies nothing, so it falls
    /// behind and stays there (a stalled projection on demand, for the console's stall
    /// detection). `None` in production.
    pub hold: Option<String>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "eventide".to_owned());
        Self {
            batch_size: 2000,
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(5),
            instance: format!("{host}-{}", std::process::id()),
            checkpoint_defer: Duration::from_secs(1),
            hold: None,
        }
    }
}

impl RunnerConfig {
    /// Delay after the `attempt`-th failure (1-based).
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2_u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_cap)
    }
}
