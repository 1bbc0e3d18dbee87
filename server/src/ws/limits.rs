//! What one websocket client may cost: a cap on open websockets per client IP (taken at the
//! upgrade, see [`crate::security::connections`]) and a rate limit (GCRA, `governor`) on
//! the messages it sends.
//!
//! Every client message is work for the server, and a `subscribe` with `since` makes the hub
//! copy its ring of recent changes: a client re-subscribing in a loop would have it copy the
//! ring as fast as it can send. Messages beyond the budget are not acted on; each is answered
//! with an `error` message instead (a client that does not read those either fills its queue
//! and is disconnected like any slow client).

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A GCRA budget (the `governor` crate): `per_sec` sustained, `burst` at once (`per_sec == 0`:
/// unlimited).
#[derive(Debug)]
pub struct MessageBudget {
    limiter: Option<DefaultDirectRateLimiter>,
}

impl MessageBudget {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: NonZeroU32::new(per_sec)
                .map(|per_sec| RateLimiter::direct(Quota::per_second(per_sec).allow_burst(burst))),
        }
    }

    /// Takes a cell; `false` when the client is over its budget.
    pub fn take(&mut self) -> bool {
        self.limiter.as_ref().is_none_or(|l| l.check().is_ok())
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
