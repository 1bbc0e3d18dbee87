//! The `Host` check against DNS rebinding.
//!
//! A page on `http://evil.example:3000` whose name the attacker re-points at 127.0.0.1 talks to
//! this server from the browser as the "same origin": its requests carry
//! `Host: evil.example:3000` and the Origin check (which, without `--allowed-origins`, compares
//! the Origin with the Host) lets them through. So every request's Host must be one we serve
//! under:
//!
//! - `localhost` and any IP literal (`127.0.0.1`, `[::1]`, the listen address, a LAN address),
//!   on any port: a rebinding attack needs a DNS name, and a port-mapping in front of the server
//!   (Docker's `-p 8080:3000`) changes the port the browser sends;
//! - the hosts of the configured `--allowed-origins`;
//! - the configured `--allowed-hosts` (`name` for any port, `name:port` for one port, `*` for
//!   any host, which turns the check off).
//!
//! A request without a Host header (HTTP/1.0) is not a browser's and is let through. Refused
//! requests get the JSON error 421 `host_not_allowed`.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use crate::state::AppState;

/// The hosts a request may be addressed to.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    any: bool,
    /// `(name, port)`, names lower-case; `None` port: any.
    names: Vec<(String, Option<u16>)>,
}

impl AllowedHosts {
    /// From `--allowed-hosts` entries and the `--allowed-origins` (their hosts are allowed).
    pub fn new(hosts: &[String], origins: &[String]) -> Self {
        let mut allowed = Self::default();
        for entry in hosts.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
            if entry == "*" {
                allowed.any = true;
            } else if let Some(parsed) = split_host(entry) {
                allowed.names.push(parsed);
            }
        }
        for origin in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            let authority = origin
                .split_once("://")
                .map_or(origin, |(_, rest)| rest)
                .trim_end_matches('/');
            if let Some((name, _)) = split_host(authority) {
                allowed.names.push((name, None));
            }
        }
        allowed
    }

    /// Whether a request sent with this `Host` value is served.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let Some((name, port)) = split_host(host) else {
            return false;
        };
        if name == "localhost" || is_ip_literal(&name) {
            return true;
        }
        self.names
            .iter()
            .any(|(n, p)| *n == name && (p.is_none() || *p == port))
    }
}

/// `host[:port]` → (lower-case name, port); IPv6 literals keep their brackets.
fn split_host(host: &str) -> Option<(String, Option<u16>)> {
    let host = host.trim();
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return None;
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        (format!("[{inner}]"), port)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name.to_owned(), Some(port.parse().ok()?)),
            None => (host.to_owned(), None),
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some((name, port))
}

fn is_ip_literal(name: &str) -> bool {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse::<IpAddr>().is_ok()
}

/// Middleware: 421 `host_not_allowed` for a Host we do not serve under.
pub async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(host) = request.headers().get(header::HOST) {
        let allowed = host
            .to_str()
            .is_ok_and(|h| state.settings.allowed_hosts.allows(h));
        if !allowed {
            tracing::warn!(host = ?host, "request for a host we do not serve refused");
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "host_not_allowed",
                "This server does not serve the requested host; add it to --allowed-hosts.",
            )
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_ip_literals_are_always_allowed() {
        let allowed = AllowedHosts::new(&[], &[]);
        for host in [
            "127.0.0.1:3000",
            "localhost:3000",
            "LOCALHOST",
            "[::1]:3000",
            "192.168.1.5:8080",
        ] {
            assert!(allowed.allows(host), "{host}");
        }
        for host in [
            "evil.example:3000",
            "evil.example",
            "localhost.evil:3000",
            "",
        ] {
            assert!(!allowed.allows(host), "{host}");
        }
    }

    #[test]
    fn configured_hosts_and_origins() {
        let allowed = AllowedHosts::new(
            &["shop.example".into(), "api.example:8443".into()],
            &["https://admin.example/".into()],
        );
        assert!(allowed.allows("shop.example"));
        assert!(allowed.allows("Shop.Example:443"));
        assert!(allowed.allows("api.example:8443"));
        assert!(!allowed.allows("api.example:80"));
        assert!(allowed.allows("admin.example"));
        assert!(!allowed.allows("evil.example"));
        assert!(AllowedHosts::new(&["*".into()], &[]).allows("anything.example"));
    }
}
