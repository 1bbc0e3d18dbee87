//! The reference consumer: reads the JetStream stream with a durable pull consumer and applies
//! each event to the `inbox` table exactly once.
//!
//! The pattern for other services: in ONE database transaction, insert the event id into the
//! inbox with `on conflict do nothing` ([`record_in_inbox`]) and, only if it was new, apply the
//! service's own effect; commit; then acknowledge the broker message. A crash before the commit
//! redelivers the message and nothing was applied; a crash after the commit but before the ack
//! redelivers it and the inbox recognises it. Re-publishes by the relay (after a restart from an
//! older checkpoint, beyond JetStream's duplicate window) are recognised the same way.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::consumer::pull::{Config as PullConfig, MessagesErrorKind};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, AckKind};
use eventstore::{Db, RecordedEvent};
use futures::StreamExt as _;
use sqlx::AnyConnection;
use tracing::{debug, info, warn};

use super::config::{DEFAULT_STREAM_NAME, DEFAULT_SUBJECT_PREFIX};
use super::publisher::error_chain;

/// Default durable consumer name.
pub const DEFAULT_DURABLE_NAME: &str = "eventide-inbox";

/// Where the consumer reads from.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// NATS URL, e.g. `nats://127.0.0.1:4222`.
    pub broker_url: String,
    /// The JetStream stream the relay publishes to (must exist).
    pub stream_name: String,
    /// Only `<prefix>.>` is consumed.
    pub subject_prefix: String,
    /// Durable consumer name: the broker remembers this consumer's acknowledged messages.
    pub durable_name: String,
    /// Messages fetched per pull.
    pub batch: usize,
    /// Redelivery delay of a message that was delivered but not acknowledged.
    pub ack_wait: Duration,
    /// Connect and request timeout.
    pub timeout: Duration,
}

impl ConsumerConfig {
    /// Defaults (`EVENTIDE_EVENTS`, `eventide.events`, durable `eventide-inbox`) for `broker_url`.
    pub fn new(broker_url: impl Into<String>) -> Self {
        Self {
            broker_url: broker_url.into(),
            stream_name: DEFAULT_STREAM_NAME.to_owned(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            durable_name: DEFAULT_DURABLE_NAME.to_owned(),
            batch: 256,
            ack_wait: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Why the consumer stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("broker: {0}")]
    Broker(String),
    #[error("database: {0}")]
    Database(String),
}

impl ConsumerError {
    fn broker(e: anyhow::Error) -> Self {
        Self::Broker(format!("{e:#}"))
    }
    fn database(e: anyhow::Error) -> Self {
        Self::Database(format!("{e:#}"))
    }
}

/// One inbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub event_id: String,
    pub stream_id: String,
    pub version: i64,
    pub position: i64,
    pub event_type: String,
}

impl From<&RecordedEvent> for InboxEntry {
    fn from(e: &RecordedEvent) -> Self {
        Self {
            event_id: e.event_id.to_string(),
            stream_id: e.stream_id.clone(),
            version: e.version,
            position: e.position,
            event_type: e.event_type.clone(),
        }
    }
}

/// What one [`consume_available`] call did.
#[derive(Debug, Clone, Default)]
pub struct ConsumeReport {
    /// Messages received (including redeliveries and duplicates).
    pub received: u64,
    /// Events newly applied, in the order they were applied.
    pub applied: Vec<InboxEntry>,
    /// Messages whose event was already in the inbox.
    pub duplicates: u64,
    /// Undecodable messages, terminated (never redelivered).
    pub rejected: u64,
}

/// Records `entry` in the inbox inside the caller's transaction. `true` when the event is new
/// (apply your effect), `false` when it was applied before (skip it, still acknowledge).
pub async fn record_in_inbox(
    conn: &mut AnyConnection,
    entry: &InboxEntry,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "insert into inbox (event_id, stream_id, version, position, event_type, received_at_us) \
         values ($1, $2, $3, $4, $5, $6) on conflict (event_id) do nothing",
    )
    .bind(&entry.event_id)
    .bind(&entry.stream_id)
    .bind(entry.version)
    .bind(entry.position)
    .bind(&entry.event_type)
    .bind(eventstore::db::now_us())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Connects and binds (creating it if missing) the durable pull consumer.
async fn bind(config: &ConsumerConfig) -> anyhow::Result<PullConsumer> {
    let url = super::credentials::BrokerUrl::parse(&config.broker_url);
    let client = url
        .apply(async_nats::ConnectOptions::new())
        .name(format!("eventide-consumer {}", config.durable_name))
        .connection_timeout(config.timeout)
        .request_timeout(Some(config.timeout))
        .connect(url.address())
        .await
        .with_context(|| format!("connecting to {}", url.redacted()))?;
    let mut js = jetstream::new(client);
    js.set_timeout(config.timeout);
    let stream = js
        .get_stream(&config.stream_name)
        .await
        .with_context(|| format!("looking up JetStream stream {}", config.stream_name))?;
    stream
        .get_or_create_consumer(
            &config.durable_name,
            PullConfig {
                durable_name: Some(config.durable_name.clone()),
                filter_subject: format!("{}.>", config.subject_prefix),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("binding durable consumer {}", config.durable_name))
}

enum Outcome {
    Applied(InboxEntry),
    Duplicate,
    Rejected,
}

/// Applies one message: inbox insert + (your effect) in one transaction, commit, then ack.
async fn handle(db: &Db, message: &jetstream::Message) -> Result<Outcome, ConsumerError> {
    let event: RecordedEvent = match serde_json::from_slice(&message.payload) {
        Ok(event) => event,
        Err(e) => {
            // A poison message would block nothing (acks are per message) but would be
            // redelivered forever: terminate it and say so.
            warn!(subject = %message.subject, error = %e, "consumer: undecodable message terminated");
            message
                .ack_with(AckKind::Term)
                .await
                .map_err(|e| ConsumerError::Broker(format!("terminating a message: {e}")))?;
            return Ok(Outcome::Rejected);
        }
    };
    let entry = InboxEntry::from(&event);
    let applied = async {
        let mut tx = db.pool().begin().await.context("begin")?;
        let new = record_in_inbox(&mut tx, &entry)
            .await
            .context("inserting into the inbox")?;
        // A real service applies its own effect here, in `tx`, when `new` is true.
        tx.commit().await.context("commit")?;
        anyhow::Ok(new)
    }
    .await
    .map_err(|e| {
        ConsumerError::database(e.context(format!("applying event {}", entry.event_id)))
    })?;
    message
        .ack()
        .await
        .map_err(|e| ConsumerError::Broker(format!("acknowledging {}: {e}", entry.event_id)))?;
    Ok(if applied {
        debug!(position = entry.position, stream = %entry.stream_id, "consumer: applied");
        Outcome::Applied(entry)
    } else {
        debug!(position = entry.position, "consumer: duplicate skipped");
        Outcome::Duplicate
    })
}

/// One-shot: applies every message available now and returns (for tests and batch jobs).
pub async fn consume_available(
    db: &Db,
    config: &ConsumerConfig,
) -> Result<ConsumeReport, ConsumerError> {
    let consumer = bind(config).await.map_err(ConsumerError::broker)?;
    let mut report = ConsumeReport::default();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(config.batch.max(1))
            .messages()
            .await
            .map_err(|e| ConsumerError::Broker(format!("fetch: {}", error_chain(&e))))?;
        let mut got = 0_u64;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| ConsumerError::Broker(format!("fetch: {e}")))?;
            got += 1;
            report.received += 1;
            match handle(db, &message).await? {
                Outcome::Applied(entry) => report.applied.push(entry),
                Outcome::Duplicate => report.duplicates += 1,
                Outcome::Rejected => report.rejected += 1,
            }
        }
        if got == 0 {
            return Ok(report);
        }
    }
}

/// Runs until an error: pulls continuously and applies each message. Cancel-safe (drop the
/// future to stop): a message applied but not yet acknowledged is redelivered and skipped.
pub async fn run_consumer(db: Db, config: ConsumerConfig) -> Result<(), ConsumerError> {
    let consumer = bind(&config).await.map_err(ConsumerError::broker)?;
    info!(stream = %config.stream_name, durable = %config.durable_name, "consumer started");
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(config.batch.max(1))
        .messages()
        .await
        .map_err(|e| ConsumerError::Broker(format!("pull: {}", error_chain(&e))))?;
    let (mut applied, mut duplicates) = (0_u64, 0_u64);
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(m) => m,
            // Transient (broker restarting): the pull stream recovers by itself.
            Err(e) if matches!(e.kind(), MessagesErrorKind::MissingHeartbeat) => {
                warn!(error = %e, "consumer: missed heartbeat; waiting for the broker");
                continue;
            }
            Err(e) => return Err(ConsumerError::Broker(format!("pull: {}", error_chain(&e)))),
        };
        match handle(&db, &message).await? {
            Outcome::Applied(_) => applied += 1,
            Outcome::Duplicate => duplicates += 1,
            Outcome::Rejected => {}
        }
        if (applied + duplicates) % 10_000 == 0 {
            info!(applied, duplicates, "consumer progress");
        }
    }
    Err(ConsumerError::Broker("the pull stream ended".to_owned()))
}
