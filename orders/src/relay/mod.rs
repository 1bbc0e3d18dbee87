//! The outbox relay: publishes every event of the global log to NATS JetStream, exactly in log
//! order, and a reference consumer that applies them exactly once.
//!
//! The `events` table is the outbox. The relay is a checkpointed subscriber of the log
//! (checkpoint [`RelayConfig::checkpoint_name`], default `relay:nats`). Each event's envelope
//! goes as JSON to `<prefix>.<stream type>.<event type>` with the headers `Nats-Msg-Id` (the
//! event id: JetStream drops a re-sent one inside the stream's duplicate window), the
//! CloudEvents 1.0 binary-mode attributes (`ce-id`, `ce-source`, `ce-type`, `ce-subject`,
//! `ce-time`, `ce-specversion`, `Content-Type`: consumers in any language read them with a
//! CloudEvents SDK), the W3C `traceparent` of the command that wrote the event,
//! `Eventide-Stream-Id`, `Eventide-Version`, `Eventide-Position`, and when present
//! `Eventide-Correlation-Id` / `Eventide-Causation-Id`.
//!
//! Up to [`RelayConfig::max_in_flight`] publishes wait for their ack at once; acks are awaited in
//! log order and the checkpoint only ever moves over the acknowledged prefix. On any failure the
//! relay backs off (exponentially, capped) and restarts from the checkpoint; the broker drops
//! what it already had. Without a broker URL the relay is disabled and does nothing.
//!
//! An event the store cannot read (an upcaster refuses it) stops the relay right before it, in
//! state `Faulted` with the event's position and id, until an operator calls [`Relay::retry`]
//! (after a fix) or [`Relay::skip`] (recorded with a reason); see `fault.rs`. It never retries
//! such an event forever and never passes it by silently.
//!
//! Several instances on one PostgreSQL database: only the holder of the lease named after the
//! checkpoint (`relay:nats`, see [`eventstore::lease`]) publishes; the others stand by (status
//! `Standby`, naming the holder) and retry the lease every two seconds, so when the holder dies
//! another instance continues from the checkpoint within seconds. Re-published events of an
//! overlap are dropped by the broker's duplicate window and by the consumer's inbox.

pub mod config;
pub mod consumer;
pub mod credentials;
mod fault;
mod publisher;
mod status;

use std::sync::Mutex;

use std::sync::Arc;

use domain::views::{RelayFault, RelayStatus};
use eventstore::lease::{self, Lease};
use eventstore::{EventStore as _, SqlEventStore};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

pub use config::{DEFAULT_STREAM_NAME, DEFAULT_SUBJECT_PREFIX, RelayConfig};
pub use fault::RelayCommandError;
pub use publisher::RelayError;

/// A running (or disabled) relay. Dropping it stops the task at its next await point (the
/// checkpoint is safe at any point); [`Relay::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct Relay {
    status: watch::Receiver<RelayStatus>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// For the operator commands; `None` when the relay is disabled.
    control: Option<Control>,
}

/// What the operator commands of a configured relay need.
#[derive(Debug)]
struct Control {
    store: SqlEventStore,
    checkpoint_name: String,
    wake: Arc<Notify>,
}

impl Relay {
    /// Starts the relay in the background and returns at once: it never blocks on or fails
    /// because of the broker (an unreachable broker shows as `BackingOff` in [`Relay::status`]).
    /// With `config.broker_url == None` the relay is `Disabled` and starts no task.
    /// Must be called inside a Tokio runtime.
    pub fn start(store: SqlEventStore, config: RelayConfig) -> Relay {
        let (stop, stop_rx) = watch::channel(false);
        let url = config
            .broker_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(credentials::BrokerUrl::parse);
        let Some(url) = url else {
            let (_tx, status) = watch::channel(status::disabled(config.instance.clone()));
            tracing::info!("relay disabled: no broker configured");
            return Relay {
                status,
                stop,
                task: Mutex::new(None),
                control: None,
            };
        };
        let (handle, status) = status::StatusHandle::new(status::starting(config.instance.clone()));
        let span = tracing::info_span!(
            "relay",
            broker = %url.redacted(),
            stream = %config.stream_name,
            checkpoint = %config.checkpoint_name,
        );
        let control = Control {
            store: store.clone(),
            checkpoint_name: config.checkpoint_name.clone(),
            wake: handle.wake(),
        };
        let task = tokio::spawn(leased(store, config, url, handle, stop_rx).instrument(span));
        Relay {
            status,
            stop,
            task: Mutex::new(Some(task)),
            control: Some(control),
        }
    }

    /// Clears the relay's fault (after deploying a fixed upcaster): it reads the event again
    /// and publishes it, or faults on it again. Works on any instance; the lease holder
    /// resumes within a second (at once when it is this one).
    pub async fn retry(&self, by: &str) -> Result<(), RelayCommandError> {
        let control = self.control.as_ref().ok_or(RelayCommandError::NotFaulted)?;
        fault::retry(control.store.db(), &control.checkpoint_name).await?;
        tracing::info!(relay = %control.checkpoint_name, by, "relay fault retried");
        control.wake.notify_one();
        Ok(())
    }

    /// Skips the event the relay faulted on: it is never published. The skip is recorded with
    /// `reason` and `who` in the transaction that moves the checkpoint over exactly that
    /// event; answers the skipped event.
    pub async fn skip(&self, reason: &str, who: &str) -> Result<RelayFault, RelayCommandError> {
        let control = self.control.as_ref().ok_or(RelayCommandError::NotFaulted)?;
        let skipped =
            fault::skip(control.store.db(), &control.checkpoint_name, reason, who).await?;
        tracing::warn!(
            relay = %control.checkpoint_name,
            position = skipped.position,
            event_id = %skipped.event_id,
            reason = reason.trim(),
            who,
            "relay: faulted event skipped, never published"
        );
        control.wake.notify_one();
        Ok(skipped)
    }

    /// The current status (state, checkpoint, head, lag, published total, last error).
    pub fn status(&self) -> RelayStatus {
        self.status.borrow().clone()
    }

    /// A receiver woken on every status change.
    pub fn subscribe_status(&self) -> watch::Receiver<RelayStatus> {
        self.status.clone()
    }

    /// Stops the relay and waits for its task (unacknowledged publishes are abandoned; they are
    /// re-sent from the checkpoint next time and dropped by the broker if they had arrived).
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.take_task();
        if let Some(task) = task
            && let Err(e) = task.await
            && e.is_panic()
        {
            tracing::error!("relay task panicked: {e}");
        }
    }

    /// Kills the task without any clean-up, like a crash (for tests and emergencies). The
    /// checkpoint never runs ahead of the broker's acks, so a new relay loses nothing.
    pub fn abort(&self) {
        if let Some(task) = self.take_task() {
            task.abort();
        }
    }

    fn take_task(&self) -> Option<JoinHandle<()>> {
        match self.task.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

/// Runs the publisher while this instance holds the relay lease; stands by otherwise.
async fn leased(
    store: SqlEventStore,
    config: RelayConfig,
    url: credentials::BrokerUrl,
    status: status::StatusHandle,
    mut stop: watch::Receiver<bool>,
) {
    let mut lease = Lease::new(
        store.db().clone(),
        config.checkpoint_name.clone(),
        config.instance.clone(),
    );
    loop {
        loop {
            match lease.try_acquire().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "relay lease attempt failed"),
            }
            let db = store.db();
            let holder = lease::holder(db, lease.name())
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| "unknown".to_owned());
            let checkpoint = db
                .load_checkpoint(&config.checkpoint_name)
                .await
                .unwrap_or_default();
            let head = *store.head_watch().borrow();
            status.standby(holder, checkpoint, head);
            tokio::select! {
                biased;
                () = publisher::stop_requested(&mut stop) => {
                    status.stopped();
                    return;
                }
                () = tokio::time::sleep(lease::RETRY_EVERY) => {}
            }
        }
        tracing::info!(instance = %config.instance, "relay lease acquired: publishing from here");
        status.leased(&config.instance);
        let stopped = tokio::select! {
            () = publisher::run(store.clone(), config.clone(), url.clone(), status.clone(), stop.clone()) => true,
            reason = lease.lost() => {
                tracing::warn!(reason = %reason, "relay lease lost: standing by");
                false
            }
        };
        lease.release().await;
        if stopped {
            return;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
