//! The relay's live status ([`RelayStatus`]), shared through a `watch` channel.

use std::sync::Arc;

use domain::views::{RelayFault, RelayState, RelayStatus};
use tokio::sync::{Notify, watch};

/// The writer side of the status, owned by the relay task.
#[derive(Debug, Clone)]
pub(crate) struct StatusHandle {
    tx: watch::Sender<RelayStatus>,
    /// Wakes a faulted relay after an operator command on this instance.
    wake: Arc<Notify>,
}

impl StatusHandle {
    pub(crate) fn new(initial: RelayStatus) -> (Self, watch::Receiver<RelayStatus>) {
        let (tx, rx) = watch::channel(initial);
        (
            Self {
                tx,
                wake: Arc::new(Notify::new()),
            },
            rx,
        )
    }

    pub(crate) fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub(crate) fn connected(&self, detail: String) {
        self.tx.send_modify(|s| {
            s.state = RelayState::Connected;
            s.detail = detail;
            s.fault = None;
        });
    }

    /// Stopped on `fault`: an event the store cannot read.
    pub(crate) fn faulted(&self, fault: RelayFault) {
        self.tx.send_modify(|s| {
            s.state = RelayState::Faulted;
            s.detail = format!(
                "faulted: the event at position {} (id {}, {} version {}) cannot be read; \
                 retry after deploying a fixed upcaster, or skip it with a reason",
                fault.position, fault.event_id, fault.stream_id, fault.version
            );
            s.last_error = Some(fault.error.clone());
            s.fault = Some(fault);
        });
    }

    /// The fault was resolved; the relay runs again from its checkpoint.
    pub(crate) fn resumed(&self) {
        self.tx.send_modify(|s| {
            s.state = RelayState::BackingOff;
            s.detail = "resuming after the fault was resolved".to_owned();
            s.fault = None;
        });
    }

    /// Backing off after `error`; the error stays visible as `last_error` until the next one.
    pub(crate) fn backing_off(&self, detail: String, error: String) {
        self.tx.send_modify(|s| {
            s.state = RelayState::BackingOff;
            s.detail = detail;
            s.last_error = Some(error);
        });
    }

    /// Another instance (`holder`) holds the relay lease; `checkpoint` is its saved progress.
    pub(crate) fn standby(&self, holder: String, checkpoint: i64, head: i64) {
        self.tx.send_modify(|s| {
            s.state = RelayState::Standby;
            s.detail = format!("standby: the relay runs on instance {holder}");
            s.instance = holder;
            s.checkpoint = checkpoint;
            s.head = head.max(checkpoint);
            s.lag = (s.head - s.checkpoint).max(0);
        });
    }

    /// This instance took the relay lease.
    pub(crate) fn leased(&self, instance: &str) {
        self.tx.send_modify(|s| {
            s.state = RelayState::BackingOff;
            s.detail = "starting: lease acquired, connecting to the broker".to_owned();
            s.instance = instance.to_owned();
        });
    }

    pub(crate) fn stopped(&self) {
        self.tx.send_modify(|s| {
            s.state = RelayState::Disabled;
            s.detail = "stopped".to_owned();
        });
    }

    /// The saved checkpoint moved to `checkpoint` after `newly_published` more acks.
    pub(crate) fn progress(&self, checkpoint: i64, newly_published: u64) {
        self.tx.send_modify(|s| {
            s.checkpoint = checkpoint;
            s.published_total += newly_published;
            s.head = s.head.max(checkpoint);
            s.lag = (s.head - s.checkpoint).max(0);
        });
    }

    /// The log's head moved to `head`.
    pub(crate) fn head(&self, head: i64) {
        self.tx.send_if_modified(|s| {
            let head = head.max(s.checkpoint);
            if s.head == head {
                return false;
            }
            s.head = head;
            s.lag = (s.head - s.checkpoint).max(0);
            true
        });
    }
}

/// The status of a relay that was never configured with a broker.
pub(crate) fn disabled(instance: String) -> RelayStatus {
    RelayStatus {
        state: RelayState::Disabled,
        detail: "disabled: no broker configured".to_owned(),
        checkpoint: 0,
        head: 0,
        lag: 0,
        published_total: 0,
        last_error: None,
        instance,
        fault: None,
        lag_seconds: 0.0,
        lag_trend: Vec::new(),
    }
}

/// The status of a relay starting up (not yet connected).
pub(crate) fn starting(instance: String) -> RelayStatus {
    RelayStatus {
        state: RelayState::BackingOff,
        detail: "starting: connecting to the broker".to_owned(),
        checkpoint: 0,
        head: 0,
        lag: 0,
        published_total: 0,
        last_error: None,
        instance,
        fault: None,
        lag_seconds: 0.0,
        lag_trend: Vec::new(),
    }
}
