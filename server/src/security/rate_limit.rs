//! Per-client rate limit: a keyed GCRA limiter (the `governor` crate) per client IP. The client
//! is the TCP peer address; `X-Forwarded-For` is believed only when the peer is a configured
//! trusted proxy (so a forged header cannot dodge the limit).
//!
//! Each client has one budget of `--rate-limit-burst` cells, refilled at
//! `--rate-limit-per-sec` cells per second (`0` disables the limit). A request takes cells by
//! its [`Cost`]:
//!
//! - **auth** (5 cells): the sign-in and sign-up calls, `POST /api/auth/login`,
//!   `POST /api/auth/signup`, `POST /api/admin/login` and their server functions
//!   (`/fn/sign_in…`, `/fn/sign_up…`, `/fn/admin_login…`);
//! - **write** (2 cells): any other `POST`, `PUT`, `PATCH` or `DELETE`;
//! - **read** (1 cell): everything else (`GET`, `HEAD`, the websocket upgrade...).
//!
//! So with the same budget a client runs out of sign-in attempts five times sooner than of
//! reads (a cost is capped at the burst, so a burst below 5 still lets one sign-in through).
//! Sign-in is throttled per account and per IP on top of this, in `orders::identity::throttle`.
//! A refused request answers 429 `rate_limited` with `Retry-After` in whole seconds (at least
//! 1): when the client's bucket holds the request's cells again.
//!
//! The limiter keeps a key per client IP; once it holds [`SWEEP_AT`] keys, the keys whose
//! bucket is full again (indistinguishable from a new client) are dropped
//! (`retain_recent`), so the key set stays bounded by the clients of the last
//! `burst / per_sec` seconds.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::api::error::ApiError;
use crate::state::AppState;
pub use orders::application::ClientIp;

/// Keys kept before those with a full bucket are swept.
pub const SWEEP_AT: usize = 10_000;

/// The cells a request takes from its client's budget (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Sign-in and sign-up.
    Auth,
    /// Other state changes.
    Write,
    /// Everything else.
    Read,
}

/// Paths of the sign-in and sign-up calls (REST, `POST`).
const AUTH_PATHS: [&str; 3] = ["/api/auth/login", "/api/auth/signup", "/api/admin/login"];
/// Path prefixes of the sign-in and sign-up server functions (a hash follows the name).
const AUTH_FN_PREFIXES: [&str; 3] = ["/fn/sign_in", "/fn/sign_up", "/fn/admin_login"];

impl Cost {
    pub const ALL: [Cost; 3] = [Cost::Auth, Cost::Write, Cost::Read];

    /// The cost of `method` on `path`.
    pub fn of(method: &Method, path: &str) -> Self {
        let write = matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        if !write {
            return Cost::Read;
        }
        if *method == Method::POST
            && (AUTH_PATHS.contains(&path) || AUTH_FN_PREFIXES.iter().any(|p| path.starts_with(p)))
        {
            Cost::Auth
        } else {
            Cost::Write
        }
    }

    /// Cells taken.
    pub fn cells(self) -> u32 {
        match self {
            Cost::Auth => 5,
            Cost::Write => 2,
            Cost::Read => 1,
        }
    }

    /// The `class` label of `eventide_rate_limited_total`.
    pub fn label(self) -> &'static str {
        match self {
            Cost::Auth => "auth",
            Cost::Write => "write",
            Cost::Read => "read",
        }
    }
}

/// Budgets by client IP.
pub struct RateLimiter {
    /// `None`: disabled (`per_sec` 0).
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    burst: NonZeroU32,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("enabled", &self.enabled())
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `per_sec` cells per second (0 disables), `burst` at once (at least 1).
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let limiter = NonZeroU32::new(per_sec).map(|per_sec| {
            governor::RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst))
        });
        Self { limiter, burst }
    }

    pub fn enabled(&self) -> bool {
        self.limiter.is_some()
    }

    /// Client IPs with a budget in memory.
    pub fn keys(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }

    /// Takes `cost`'s cells for `ip`; `Err(seconds to wait)` (whole, at least 1) when its
    /// budget does not hold them.
    pub fn check(&self, ip: IpAddr, cost: Cost) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() >= SWEEP_AT {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        // Never more than the burst: such a request could never pass.
        let cells = NonZeroU32::new(cost.cells().min(self.burst.get())).unwrap_or(NonZeroU32::MIN);
        match limiter.check_key_n(&ip, cells) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(wait.as_secs_f64().ceil().max(1.0) as u64)
            }
            // Unreachable with the cap above; refuse rather than let it through unlimited.
            Err(_insufficient) => Err(1),
        }
    }
}

/// The client's IP: the peer, or (when the peer is a trusted proxy) the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// Middleware: 429 with `Retry-After` when the client's budget does not hold the request's
/// cost. Also records the client's address ([`ClientIp`], trusted proxies applied) for the
/// handlers (sign-in throttling per IP on REST and in the server functions).
pub async fn rate_limit(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let ip = peer.map(|peer| client_ip(peer, request.headers(), &state.settings.trusted_proxies));
    if let Some(ip) = ip {
        request.extensions_mut().insert(ClientIp(ip));
    }
    if state.rate_limiter.enabled()
        && let Some(ip) = ip
    {
        let cost = Cost::of(request.method(), request.uri().path());
        if let Err(retry_after) = state.rate_limiter.check(ip, cost) {
            state.metrics.rate_limited(cost);
            return ApiError::too_many_requests(retry_after).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn budget_empties_and_refills() {
        let limiter = RateLimiter::new(1000, 2);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiter.check(ip, Cost::Read).is_ok());
        assert!(limiter.check(ip, Cost::Read).is_ok());
        assert_eq!(limiter.check(ip, Cost::Read), Err(1));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(limiter.check(ip, Cost::Read).is_ok());
    }

    #[test]
    fn auth_costs_more_than_writes_and_reads() {
        let limiter = RateLimiter::new(1, 10);
        let (auth, write, read): (IpAddr, IpAddr, IpAddr) = (
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "10.0.0.3".parse().unwrap(),
        );
        let passed = |ip, cost| {
            (0..20)
                .take_while(|_| limiter.check(ip, cost).is_ok())
                .count()
        };
        assert_eq!(passed(auth, Cost::Auth), 2);
        assert_eq!(passed(write, Cost::Write), 5);
        assert_eq!(passed(read, Cost::Read), 10);
        // Whole seconds until the cells are back: 5 cells at 1 per second.
        let wait = limiter.check(auth, Cost::Auth).unwrap_err();
        assert!((4..=5).contains(&wait), "{wait}");
    }

    #[test]
    fn a_cost_above_the_burst_still_passes_once() {
        let limiter = RateLimiter::new(1, 3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiter.check(ip, Cost::Auth).is_ok());
        assert!(limiter.check(ip, Cost::Read).is_err());
    }

    #[test]
    fn disabled_limits_nothing() {
        let limiter = RateLimiter::new(0, 0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(!limiter.enabled());
        assert!((0..1000).all(|_| limiter.check(ip, Cost::Auth).is_ok()));
    }

    #[test]
    fn idle_keys_are_swept() {
        let limiter = RateLimiter::new(1_000_000, 1);
        for i in 0..(SWEEP_AT as u32 + 10) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(limiter.check(ip, Cost::Read).is_ok());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        let _ = limiter.check("192.0.2.1".parse().unwrap(), Cost::Read);
        assert!(limiter.keys() < SWEEP_AT, "{}", limiter.keys());
    }

    #[test]
    fn costs_by_method_and_path() {
        assert_eq!(Cost::of(&Method::POST, "/api/auth/login"), Cost::Auth);
        assert_eq!(Cost::of(&Method::POST, "/api/auth/signup"), Cost::Auth);
        assert_eq!(Cost::of(&Method::POST, "/api/admin/login"), Cost::Auth);
        assert_eq!(Cost::of(&Method::POST, "/fn/sign_in1234"), Cost::Auth);
        assert_eq!(Cost::of(&Method::POST, "/fn/admin_login99"), Cost::Auth);
        assert_eq!(Cost::of(&Method::POST, "/api/auth/logout"), Cost::Write);
        assert_eq!(Cost::of(&Method::POST, "/fn/sign_out1"), Cost::Write);
        assert_eq!(Cost::of(&Method::DELETE, "/api/tokens/1"), Cost::Write);
        assert_eq!(Cost::of(&Method::PUT, "/api/users/a/role"), Cost::Write);
        assert_eq!(Cost::of(&Method::GET, "/api/auth/login"), Cost::Read);
        assert_eq!(Cost::of(&Method::GET, "/api/orders"), Cost::Read);
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 5.6.7.8"),
        );
        let peer: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &[]), peer);
        assert_eq!(
            client_ip(peer, &h, &[peer]),
            "5.6.7.8".parse::<IpAddr>().unwrap()
        );
    }
}
