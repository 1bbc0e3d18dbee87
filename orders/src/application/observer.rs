//! The command metrics hook: the application layer reports every command it ran (name,
//! outcome, duration) to a [`CommandObserver`]; the server's metrics registry implements it, so
//! REST and server-function commands are counted alike.

use std::time::Duration;

/// Receives one call per command the application ran.
pub trait CommandObserver: Send + Sync + 'static {
    /// `command` is the use case (`place_order`...), `outcome` is `ok`, the error code of a
    /// client error, or `error`.
    fn command(&self, command: &'static str, outcome: &str, elapsed: Duration);

    /// An action refused by the access policy: `action` is the use case, `code` is
    /// `unauthorized` (not signed in) or `forbidden` (not allowed).
    fn refused(&self, action: &'static str, code: &'static str) {
        let _ = (action, code);
    }
}

/// Counts nothing (tools and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl CommandObserver for NoMetrics {
    fn command(&self, _command: &'static str, _outcome: &str, _elapsed: Duration) {}
}
