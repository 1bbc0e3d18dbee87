//! Login throttling per account and per client IP (GCRA, the `governor` crate): a burst of
//! attempts, then one per interval. Failed and successful attempts both count, so guessing is
//! bounded whatever the answers. The state is per instance (in memory); a deployment of N
//! instances behind a balancer allows at most N times the rate, which still makes online
//! guessing useless.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Keys kept before stale ones are dropped.
const MAX_KEYS: usize = 100_000;

/// The limits of login attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Attempts one account may take at once.
    pub per_account_burst: u32,
    /// Then one more per this interval.
    pub per_account_every: Duration,
    /// Attempts one IP may take at once.
    pub per_ip_burst: u32,
    /// Then one more per this interval.
    pub per_ip_every: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            per_account_burst: 5,
            per_account_every: Duration::from_secs(12),
            per_ip_burst: 20,
            per_ip_every: Duration::from_secs(2),
        }
    }
}

/// The two limiters.
pub struct LoginThrottle {
    accounts: DefaultKeyedRateLimiter<String>,
    ips: DefaultKeyedRateLimiter<IpAddr>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle").finish_non_exhaustive()
    }
}

fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every.max(Duration::from_millis(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl LoginThrottle {
    /// Limiters with `config`.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            accounts: RateLimiter::keyed(quota(config.per_account_burst, config.per_account_every)),
            ips: RateLimiter::keyed(quota(config.per_ip_burst, config.per_ip_every)),
        }
    }

    /// Takes one attempt for `username` from `ip`; `Err(seconds)` to wait when either limit
    /// is used up.
    pub fn attempt(&self, username: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        if self.accounts.len() > MAX_KEYS {
            self.accounts.retain_recent();
        }
        if self.ips.len() > MAX_KEYS {
            self.ips.retain_recent();
        }
        let now = DefaultClock::default().now();
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(now).as_secs().max(1);
        if let Some(ip) = ip {
            self.ips.check_key(&ip).map_err(wait)?;
        }
        self.accounts
            .check_key(&username.to_owned())
            .map_err(wait)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_per_account_and_per_ip() {
        let throttle = LoginThrottle::new(ThrottleConfig {
            per_account_burst: 3,
            per_account_every: Duration::from_secs(60),
            per_ip_burst: 5,
            per_ip_every: Duration::from_secs(60),
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(throttle.attempt("alice", Some(ip)).is_ok());
        }
        let wait = throttle.attempt("alice", Some(ip)).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another account from the same IP still has the IP's burst left (5 - 4 = 1)...
        assert!(throttle.attempt("bob", Some(ip)).is_ok());
        // ...and then the IP is used up, whatever the account.
        assert!(throttle.attempt("carol", Some(ip)).is_err());
        assert!(
            throttle
                .attempt("carol", Some([10, 0, 0, 2].into()))
                .is_ok()
        );
    }
}
