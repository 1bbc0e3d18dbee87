//! Relay configuration and its defaults.

use std::time::Duration;

/// Default subject prefix: events go to `<prefix>.<stream type>.<event type>`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "eventide.events";
/// Default JetStream stream name.
pub const DEFAULT_STREAM_NAME: &str = "EVENTIDE_EVENTS";
/// Default checkpoint name of the relay in the `checkpoints` table.
pub const DEFAULT_CHECKPOINT_NAME: &str = "relay:nats";
/// The smallest duplicate window the relay accepts: re-publishes after a restart must fall
/// inside it to be dropped by `Nats-Msg-Id`.
pub const MIN_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// How the relay reaches the broker and paces itself.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// NATS URL(s), e.g. `nats://127.0.0.1:4222` (comma-separated for several servers).
    /// `None` (the embedded default): the relay is disabled and does nothing.
    pub broker_url: Option<String>,
    /// Subject prefix; the JetStream stream captures `<prefix>.>`.
    pub subject_prefix: String,
    /// JetStream stream name, created (or checked and updated) on start.
    pub stream_name: String,
    /// Name of the relay's row in `checkpoints`.
    pub checkpoint_name: String,
    /// JetStream duplicate window (raised to at least [`MIN_DUPLICATE_WINDOW`]).
    pub duplicate_window: Duration,
    /// Publishes awaiting their broker ack at any time.
    pub max_in_flight: usize,
    /// Events read from the log per query.
    pub read_batch: u32,
    /// Save the checkpoint at least every this many acknowledged events (and whenever the
    /// relay catches up).
    pub checkpoint_every: u64,
    /// How long a publish (and a JetStream API request) waits for the broker's answer.
    pub ack_timeout: Duration,
    /// Connect timeout of one connection attempt.
    pub connect_timeout: Duration,
    /// First retry delay after a failure; doubled on each further failure ...
    pub backoff_min: Duration,
    /// ... up to this cap.
    pub backoff_max: Duration,
    /// Shown in the status (which process runs the relay).
    pub instance: String,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            broker_url: None,
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            stream_name: DEFAULT_STREAM_NAME.to_owned(),
            checkpoint_name: DEFAULT_CHECKPOINT_NAME.to_owned(),
            duplicate_window: MIN_DUPLICATE_WINDOW,
            max_in_flight: 256,
            read_batch: 512,
            checkpoint_every: 256,
            ack_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            instance: default_instance(),
        }
    }
}

impl RelayConfig {
    /// The default configuration publishing to `broker_url`.
    pub fn with_broker(broker_url: impl Into<String>) -> Self {
        Self {
            broker_url: Some(broker_url.into()),
            ..Self::default()
        }
    }

    /// The subjects the JetStream stream captures: `<prefix>.>`.
    pub fn stream_subject(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }

    /// The subject of one event: `<prefix>.<stream type>.<event type>`, each part made a valid
    /// single subject token (`.`, `*`, `>` and whitespace become `_`).
    pub fn subject_for(&self, stream_type: &str, event_type: &str) -> String {
        format!(
            "{}.{}.{}",
            self.subject_prefix,
            subject_token(stream_type),
            subject_token(event_type)
        )
    }
}

/// `s` as one NATS subject token.
pub(crate) fn subject_token(s: &str) -> String {
    if s.is_empty() {
        return "_".to_owned();
    }
    s.chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() || c.is_control() => '_',
            c => c,
        })
        .collect()
}

/// `$HOSTNAME:pid` (or `pid-<pid>` without a host name).
pub(crate) fn default_instance() -> String {
    let pid = std::process::id();
    match std::env::var("HOSTNAME") {
        Ok(host) if !host.is_empty() => format!("{host}:{pid}"),
        _ => format!("pid-{pid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_valid_tokens() {
        let c = RelayConfig::default();
        assert_eq!(
            c.subject_for("order", "OrderPlaced"),
            "eventide.events.order.OrderPlaced"
        );
        assert_eq!(c.subject_for("a.b", "x y>*"), "eventide.events.a_b.x_y__");
        assert_eq!(c.subject_for("", "E"), "eventide.events._.E");
        assert_eq!(c.stream_subject(), "eventide.events.>");
    }
}
