//! The relay loop: read the log after the checkpoint, publish to JetStream with a window of
//! unacknowledged publishes, await the acks in log order, move the checkpoint over the
//! acknowledged prefix only; on any failure back off and restart from the checkpoint. An event
//! the store cannot read is no failure to retry: the relay publishes everything before it, then
//! faults on it until an operator retries or skips it (`fault.rs`).

use std::collections::VecDeque;
use std::future::IntoFuture as _;
use std::time::Duration;

use async_nats::connection::State as ConnectionState;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{GetStreamErrorKind, Publish, PublishAckFuture};
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use async_nats::{Client, ConnectOptions, HeaderMap};
use domain::views::RelayFault;
use eventstore::sql_store::UnreadableEvent;
use eventstore::{EventStore as _, RecordedEvent, SqlEventStore, StoreError};
use rand::Rng as _;
use tokio::sync::watch;
use tracing::{Instrument as _, debug, error, info, warn};

use super::config::{MIN_DUPLICATE_WINDOW, RelayConfig};
use super::credentials::BrokerUrl;
use super::status::StatusHandle;

/// Why a relay attempt failed (shown as `last_error`; the relay retries after a back-off).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// `url` is the redacted URL (no credentials).
    #[error("cannot connect to the broker at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("broker connection lost; the client is reconnecting")]
    Disconnected,
    #[error("JetStream stream {stream}: {reason}")]
    Stream { stream: String, reason: String },
    #[error("publish of the event at position {position} failed: {source}")]
    Publish {
        position: i64,
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
    #[error("cannot encode the event at position {position}: {source}")]
    Encode {
        position: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// The store cannot read the event at `position` (an upcaster refuses it, its row does not
    /// decode): retrying cannot help, the relay faults on it (see `fault.rs`).
    #[error("the event at position {} (id {}) cannot be read: {}", .0.position, .0.event_id, .0.error)]
    Unreadable(Box<UnreadableEvent>),
}

/// `err` and its sources, `: `-separated.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// A connected client and its JetStream context.
pub(crate) struct Broker {
    pub(crate) client: Client,
    pub(crate) js: async_nats::jetstream::Context,
}

/// Connects once (no retry here: the relay loop retries with its own back-off). After the first
/// success the client reconnects by itself.
/// The credentials go in the connect options, never in the URL the client sees (it logs it).
pub(crate) async fn connect(
    url: &BrokerUrl,
    name: &str,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<Broker, async_nats::ConnectError> {
    let client = url
        .apply(ConnectOptions::new())
        .name(name)
        .connection_timeout(connect_timeout)
        .request_timeout(Some(request_timeout))
        .connect(url.address())
        .await?;
    let mut js = async_nats::jetstream::new(client.clone());
    js.set_timeout(request_timeout);
    Ok(Broker { client, js })
}

/// Creates the stream, or checks it: duplicate window at least `duplicate_window` (and at
/// least two minutes) and capturing `<prefix>.>`; updates it when either is missing. Other
/// settings an operator made (limits, replicas) are kept.
pub(crate) async fn ensure_stream(
    js: &async_nats::jetstream::Context,
    stream_name: &str,
    subject: &str,
    duplicate_window: Duration,
) -> Result<(), RelayError> {
    let window = duplicate_window.max(MIN_DUPLICATE_WINDOW);
    let fail = |reason: String| RelayError::Stream {
        stream: stream_name.to_owned(),
        reason,
    };
    match js.get_stream(stream_name).await {
        Ok(stream) => {
            let mut config = stream.cached_info().config.clone();
            let mut changed = false;
            if config.duplicate_window < window {
                info!(
                    stream = stream_name,
                    from = ?config.duplicate_window,
                    to = ?window,
                    "raising the JetStream duplicate window"
                );
                config.duplicate_window = window;
                changed = true;
            }
            if !config.subjects.iter().any(|s| s == subject) {
                info!(
                    stream = stream_name,
                    subject, "adding the relay's subjects to the stream"
                );
                config.subjects.push(subject.to_owned());
                changed = true;
            }
            if changed {
                js.update_stream(&config)
                    .await
                    .map_err(|e| fail(format!("update failed: {}", error_chain(&e))))?;
            }
            Ok(())
        }
        Err(e) if is_stream_not_found(&e) => {
            info!(
                stream = stream_name,
                subject, "creating the JetStream stream"
            );
            js.create_stream(StreamConfig {
                name: stream_name.to_owned(),
                subjects: vec![subject.to_owned()],
                storage: StorageType::File,
                duplicate_window: window,
                description: Some("Eventide domain events (published by the outbox relay)".into()),
                ..Default::default()
            })
            .await
            .map_err(|e| fail(format!("create failed: {}", error_chain(&e))))?;
            Ok(())
        }
        Err(e) => Err(fail(format!("lookup failed: {}", error_chain(&e)))),
    }
}

fn is_stream_not_found(e: &async_nats::jetstream::context::GetStreamError) -> bool {
    matches!(e.kind(), GetStreamErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

/// The CloudEvents spec version the messages follow.
pub const CLOUDEVENTS_SPEC: &str = "1.0";

/// The broker headers of `event`: `Nats-Msg-Id` (JetStream's dedupe key), the CloudEvents 1.0
/// binary-mode attributes (`ce-id` the event id, `ce-source` `/eventide/<stream type>`,
/// `ce-type` `eventide.<stream type>.<event type>.v<schema version>`, `ce-subject` the stream
/// id, `ce-time` when it was recorded, `Content-Type` of the body), the W3C `traceparent` of
/// the command that wrote it, and the envelope's ids as `Eventide-*` headers.
pub(crate) fn headers(event: &RecordedEvent) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        async_nats::header::NATS_MESSAGE_ID,
        event.event_id.to_string(),
    );
    h.insert("ce-specversion", CLOUDEVENTS_SPEC);
    h.insert("ce-id", event.event_id.to_string());
    h.insert("ce-source", format!("/eventide/{}", event.stream_type));
    h.insert(
        "ce-type",
        format!(
            "eventide.{}.{}.v{}",
            event.stream_type, event.event_type, event.schema_version
        ),
    );
    h.insert("ce-subject", event.stream_id.as_str());
    h.insert(
        "ce-time",
        event
            .recorded_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    );
    h.insert("Content-Type", "application/json");
    if let Some(trace) = event.metadata.trace_parent() {
        h.insert("traceparent", trace.to_string());
    }
    h.insert("Eventide-Stream-Id", event.stream_id.as_str());
    h.insert("Eventide-Version", event.version.to_string());
    h.insert("Eventide-Position", event.position.to_string());
    if let Some(c) = event.metadata.correlation_id {
        h.insert("Eventide-Correlation-Id", c.to_string());
    }
    if let Some(c) = event.metadata.causation_id {
        h.insert("Eventide-Causation-Id", c.to_string());
    }
    h
}

/// Sends one event (does not wait for the ack).
async fn publish(
    js: &async_nats::jetstream::Context,
    config: &RelayConfig,
    event: &RecordedEvent,
) -> Result<PublishAckFuture, RelayError> {
    let payload = serde_json::to_vec(event).map_err(|source| RelayError::Encode {
        position: event.position,
        source,
    })?;
    let subject = config.subject_for(&event.stream_type, &event.event_type);
    // The event's trace continues here (the span names it; the message carries it on).
    let span = tracing::debug_span!(
        "relay_publish",
        position = event.position,
        trace_id = event.metadata.trace_id(),
    );
    eventstore::otel_link::continue_trace(&span, event.metadata.trace_parent().as_ref());
    js.send_publish(
        subject,
        Publish::build()
            .payload(payload.into())
            .headers(headers(event)),
    )
    .instrument(span)
    .await
    .map_err(|source| RelayError::Publish {
        position: event.position,
        source,
    })
}

/// Exponential back-off with a cap and ±20 % jitter.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self
            .min
            .saturating_mul(1_u32 << self.failures.min(16))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let jitter = rand::rng().random_range(0.8..1.2);
        base.mul_f64(jitter).min(self.max)
    }
}

/// Resolves when shutdown is requested (the flag turns true or the `Relay` is dropped).
pub(crate) async fn stop_requested(rx: &mut watch::Receiver<bool>) {
    // `wait_for` errs when the sender is gone, which also means "stop".
    let _ = rx.wait_for(|stop| *stop).await;
}

/// What the relay confirmed: the contiguous acknowledged prefix and what of it is saved.
#[derive(Debug, Clone, Copy)]
struct Progress {
    /// Every event with `position <= acked` was acknowledged by the broker.
    acked: i64,
    /// The checkpoint as saved in the database.
    saved: i64,
    /// Acks since the last save.
    unsaved_acks: u64,
    /// Whether this session got at least one ack (resets the back-off).
    advanced: bool,
}

/// The task body: runs sessions until shutdown, backing off between failed ones.
pub(crate) async fn run(
    store: SqlEventStore,
    config: RelayConfig,
    url: BrokerUrl,
    status: StatusHandle,
    mut stop: watch::Receiver<bool>,
) {
    let mut head_rx = store.head_watch();
    let mut backoff = Backoff::new(config.backoff_min, config.backoff_max);
    let mut broker: Option<Broker> = None;
    loop {
        // A fault left open (by this relay before a restart, or by another instance) holds the
        // relay until an operator resolves it, also after a deployment that fixed the event.
        match super::fault::open(store.db(), &config.checkpoint_name).await {
            Ok(Some((_, fault))) => match faulted(&store, &config, &status, fault, &mut stop).await
            {
                Ok(Resume::Resolved) => {}
                Ok(Resume::Stop) => break,
                Err(e) => warn!(error = %e, "relay: waiting on its fault failed"),
            },
            Ok(None) => {}
            Err(e) => debug!(error = %e, "relay: cannot look for an open fault; the session will"),
        }
        let outcome = tokio::select! {
            biased;
            () = stop_requested(&mut stop) => break,
            outcome = session(&store, &config, &url, &status, &mut broker, &mut head_rx) => outcome,
        };
        let (error, advanced) = match outcome {
            Ok(()) | Err((RelayError::Store(StoreError::Closed), _)) => break,
            Err((RelayError::Unreadable(event), _)) => {
                let error = url.scrub(&event.error);
                let recorded =
                    super::fault::record(store.db(), &config.checkpoint_name, &event, &error).await;
                let waited = match recorded {
                    Ok(fault) => faulted(&store, &config, &status, fault, &mut stop).await,
                    Err(e) => Err(e),
                };
                match waited {
                    Ok(Resume::Resolved) => {
                        backoff.reset();
                        continue;
                    }
                    Ok(Resume::Stop) => {
                        status.stopped();
                        return;
                    }
                    // The fault could not be recorded (the database is unavailable): back off
                    // and read again; the event stops the relay again.
                    Err(e) => (RelayError::Store(e), false),
                }
            }
            Err((error, advanced)) => (error, advanced),
        };
        if advanced {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        let text = url.scrub(&error_chain(&error));
        warn!(error = %text, retry_in = ?delay, "relay: broker publish failed; backing off");
        status.backing_off(
            format!("backing off {} ms after: {text}", delay.as_millis()),
            text,
        );
        let until = tokio::time::Instant::now() + delay;
        loop {
            tokio::select! {
                biased;
                () = stop_requested(&mut stop) => {
                    status.stopped();
                    return;
                }
                () = tokio::time::sleep_until(until) => break,
                changed = head_rx.changed() => {
                    if changed.is_err() {
                        status.stopped();
                        return;
                    }
                    status.head(*head_rx.borrow_and_update());
                }
            }
        }
    }
    status.stopped();
    info!("relay stopped");
}

/// How a faulted relay goes on.
enum Resume {
    /// The fault was retried or skipped (on any instance): run from the checkpoint again.
    Resolved,
    /// Shutdown was requested.
    Stop,
}

/// The relay stopped right before the event of `fault` (recorded), which the store cannot
/// read: shows it, and waits until an operator resolved it (polling, or woken by a command on this
/// instance) or shutdown. Publishes nothing meanwhile.
async fn faulted(
    store: &SqlEventStore,
    config: &RelayConfig,
    status: &StatusHandle,
    fault: RelayFault,
    stop: &mut watch::Receiver<bool>,
) -> Result<Resume, StoreError> {
    let db = store.db();
    if let Ok(checkpoint) = db.load_checkpoint(&config.checkpoint_name).await {
        status.progress(checkpoint, 0);
    }
    status.head(*store.head_watch().borrow());
    error!(
        position = fault.position,
        event_id = %fault.event_id,
        stream_id = %fault.stream_id,
        version = fault.version,
        error = %fault.error,
        "relay faulted: the store cannot read this event; retry after a fix or skip it"
    );
    status.faulted(fault);
    let wake = status.wake();
    loop {
        tokio::select! {
            biased;
            () = stop_requested(stop) => return Ok(Resume::Stop),
            () = wake.notified() => {}
            () = tokio::time::sleep(super::fault::POLL_EVERY) => {}
        }
        match super::fault::open(db, &config.checkpoint_name).await {
            Ok(None) => {
                info!("relay fault resolved: resuming from the checkpoint");
                status.resumed();
                return Ok(Resume::Resolved);
            }
            Ok(Some(_)) => {}
            Err(e) => debug!(error = %e, "relay: cannot look at its fault; still faulted"),
        }
    }
}

/// One connected run: connect if needed, ensure the stream, then pipeline from the checkpoint
/// until an error. Cancel-safe with respect to correctness: the checkpoint only ever holds
/// acknowledged positions. Returns `Ok` only when the event store shut down.
async fn session(
    store: &SqlEventStore,
    config: &RelayConfig,
    url: &BrokerUrl,
    status: &StatusHandle,
    broker: &mut Option<Broker>,
    head_rx: &mut watch::Receiver<i64>,
) -> Result<(), (RelayError, bool)> {
    let no_progress = |e: RelayError| (e, false);
    let b = match broker {
        Some(b) => b,
        None => {
            let connected = connect(
                url,
                &format!("eventide-relay {}", config.instance),
                config.connect_timeout,
                config.ack_timeout,
            )
            .await
            .map_err(|source| {
                no_progress(RelayError::Connect {
                    url: url.redacted().to_owned(),
                    source,
                })
            })?;
            info!(url = url.redacted(), "relay connected to the broker");
            broker.insert(connected)
        }
    };
    if b.client.connection_state() != ConnectionState::Connected {
        // The client reconnects on its own; publishing now would only queue up in it.
        return Err(no_progress(RelayError::Disconnected));
    }
    ensure_stream(
        &b.js,
        &config.stream_name,
        &config.stream_subject(),
        config.duplicate_window,
    )
    .await
    .map_err(no_progress)?;
    let checkpoint = store
        .db()
        .load_checkpoint(&config.checkpoint_name)
        .await
        .map_err(|e| no_progress(e.into()))?;
    status.progress(checkpoint, 0);
    status.head(*head_rx.borrow());
    status.connected(format!(
        "publishing to JetStream stream {} ({})",
        config.stream_name,
        config.stream_subject()
    ));
    let mut progress = Progress {
        acked: checkpoint,
        saved: checkpoint,
        unsaved_acks: 0,
        advanced: false,
    };
    let result = pipeline(store, config, status, &b.js, head_rx, &mut progress).await;
    // Keep what the broker confirmed even when the session failed.
    if progress.acked > progress.saved
        && let Err(e) = save(store, config, status, &mut progress).await
    {
        warn!(error = %error_chain(&e), "relay: saving the checkpoint after a failure failed");
    }
    result.map_err(|e| (e, progress.advanced))
}

async fn save(
    store: &SqlEventStore,
    config: &RelayConfig,
    status: &StatusHandle,
    progress: &mut Progress,
) -> Result<(), RelayError> {
    store
        .db()
        .advance_checkpoint(&config.checkpoint_name, progress.acked)
        .await?;
    progress.saved = progress.acked;
    status.progress(progress.acked, progress.unsaved_acks);
    progress.unsaved_acks = 0;
    Ok(())
}

/// Publish in log order with up to `max_in_flight` unacknowledged messages, await the acks in
/// the same order, advance over the acknowledged prefix. Per-stream order holds because the log
/// order does and nothing is ever published out of it.
async fn pipeline(
    store: &SqlEventStore,
    config: &RelayConfig,
    status: &StatusHandle,
    js: &async_nats::jetstream::Context,
    head_rx: &mut watch::Receiver<i64>,
    progress: &mut Progress,
) -> Result<(), RelayError> {
    let window = config.max_in_flight.max(1);
    let mut buffer: VecDeque<RecordedEvent> = VecDeque::new();
    let mut in_flight: VecDeque<(i64, PublishAckFuture)> = VecDeque::with_capacity(window);
    // Last position read from the log (published or buffered).
    let mut read_pos = progress.acked;
    // The last read found nothing and no commit happened since.
    let mut exhausted = false;
    // The next event after the buffer cannot be read: publish up to it, then fault.
    let mut blocked: Option<UnreadableEvent> = None;
    loop {
        // Fill the window.
        while in_flight.len() < window {
            if buffer.is_empty() {
                if blocked.is_some() || (exhausted && !head_rx.has_changed().unwrap_or(true)) {
                    break;
                }
                let head = *head_rx.borrow_and_update();
                status.head(head);
                let run = store.read_all_readable(read_pos, config.read_batch).await?;
                blocked = run.unreadable;
                exhausted = run.events.is_empty() && blocked.is_none();
                if run.events.is_empty() {
                    break;
                }
                buffer.extend(run.events);
            }
            let Some(event) = buffer.pop_front() else {
                break;
            };
            let ack = publish(js, config, &event).await?;
            read_pos = event.position;
            in_flight.push_back((event.position, ack));
        }

        // Await the oldest ack.
        if let Some((position, ack)) = in_flight.pop_front() {
            let ack = ack
                .into_future()
                .await
                .map_err(|source| RelayError::Publish { position, source })?;
            if ack.duplicate {
                debug!(position, "relay: broker dropped a re-sent duplicate");
            }
            progress.acked = position;
            progress.unsaved_acks += 1;
            progress.advanced = true;
            let drained = in_flight.is_empty() && buffer.is_empty();
            if progress.unsaved_acks >= config.checkpoint_every || drained {
                save(store, config, status, progress).await?;
            }
            continue;
        }

        // Caught up: everything read was acknowledged and saved. Wait for the next commit.
        if progress.acked > progress.saved {
            save(store, config, status, progress).await?;
        }
        // Everything before the unreadable event is acknowledged and saved: fault on it.
        if let Some(event) = blocked.take() {
            return Err(RelayError::Unreadable(Box::new(event)));
        }
        if head_rx.changed().await.is_err() {
            return Err(RelayError::Store(StoreError::Closed));
        }
        exhausted = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(160) && first <= Duration::from_millis(240));
        let mut last = first;
        for _ in 0..20 {
            last = b.next_delay();
        }
        assert!(last <= Duration::from_secs(10) && last >= Duration::from_secs(8));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(240));
    }
}
