//! What one websocket client may cost: a cap on open websockets per client IP (taken at the
//! upgrade, see [`crate::security::connections`]) and a token bucket on the messages it sends.
//!
//! Every client message is work for the server, and a `subscribe` with `since` makes the hub
//! copy its ring of recent changes: a client re-subscribing in a loop would have it copy the
//! ring as fast as it can send. Messages beyond the bucket are not acted on; each is answered
//! with an `error` message instead (a client that does not read those either fills its queue
//! and is disconnected like any slow client).

use std::time::Instant;

/// A token bucket: `per_sec` sustained, `burst` at once (`per_sec == 0`: unlimited).
#[derive(Debug)]
pub struct MessageBudget {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl MessageBudget {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_sec: f64::from(per_sec),
            burst,
            tokens: burst,
            updated: Instant::now(),
        }
    }

    /// Takes a token; `false` when the client is over its budget.
    pub fn take(&mut self) -> bool {
        if self.per_sec <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The text of the error answering a message over the budget.
pub const OVER_BUDGET: &str = "rate limited: too many messages; this one was ignored";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_passes_then_messages_are_refused() {
        let mut budget = MessageBudget::new(1, 3);
        assert!(budget.take() && budget.take() && budget.take());
        assert!(!budget.take());
        let mut unlimited = MessageBudget::new(0, 1);
        assert!((0..1000).all(|_| unlimited.take()));
    }
}
