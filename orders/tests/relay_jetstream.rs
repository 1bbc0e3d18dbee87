//! The outbox relay against a real NATS JetStream (127.0.0.1:4222, or `EVENTIDE_TEST_NATS_URL`):
//! exactly-once arrival at the reference consumer's inbox, per-stream order, re-publish after a
//! checkpoint reset, broker outage (a private nats-server), crash mid-flight, disabled relay, an
//! event the upcaster refuses (a visible fault, retried after a fix or skipped, never lost).
//!
//! Each test uses its own JetStream stream, subject prefix and durable consumer, and deletes the
//! stream at the end.

use std::collections::{BTreeMap, HashSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use domain::views::{RelayState, RelayStatus};
use eventstore::testing::TestDb;
use eventstore::{
    Backend, Db, EventMetadata, EventStore, ExpectedVersion, NewEvent, SqlEventStore,
    UpcasterRegistry,
};
use orders::relay::consumer::{ConsumerConfig, InboxEntry, consume_available};
use orders::relay::{Relay, RelayConfig};
use serde_json::json;
use uuid::Uuid;

const NATS_SERVER: &str = "/usr/sbin/nats-server";
const WAIT: Duration = Duration::from_secs(60);

fn nats_url() -> String {
    std::env::var("EVENTIDE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

struct Fixture {
    test_db: TestDb,
    store: SqlEventStore,
    relay_config: RelayConfig,
    consumer_config: ConsumerConfig,
}

impl Fixture {
    async fn new(backend: Backend, url: &str) -> Self {
        Self::with_upcasters(backend, url, UpcasterRegistry::new()).await
    }

    async fn with_upcasters(backend: Backend, url: &str, upcasters: UpcasterRegistry) -> Self {
        let test_db = TestDb::new(backend).await.expect("fresh database");
        let store = SqlEventStore::open(test_db.db().clone(), upcasters)
            .await
            .expect("open store");
        let tag = Uuid::now_v7().simple().to_string();
        let relay_config = RelayConfig {
            subject_prefix: format!("test.{tag}"),
            stream_name: format!("TEST_{tag}"),
            checkpoint_name: "relay:test".into(),
            ack_timeout: Duration::from_secs(2),
            backoff_max: Duration::from_secs(1),
            instance: "test".into(),
            ..RelayConfig::with_broker(url)
        };
        let consumer_config = ConsumerConfig {
            stream_name: relay_config.stream_name.clone(),
            subject_prefix: relay_config.subject_prefix.clone(),
            durable_name: format!("inbox_{tag}"),
            ..ConsumerConfig::new(url)
        };
        Self {
            test_db,
            store,
            relay_config,
            consumer_config,
        }
    }

    fn db(&self) -> &Db {
        self.test_db.db()
    }

    fn start(&self) -> Relay {
        Relay::start(self.store.clone(), self.relay_config.clone())
    }

    /// Appends `per_stream` events to each of `streams` streams (interleaved, some appends with
    /// two events); returns the event ids.
    async fn append(&self, prefix: &str, streams: usize, per_stream: usize) -> Vec<Uuid> {
        let mut ids = Vec::new();
        let mut i = 0;
        while i < per_stream {
            let n = if i + 2 <= per_stream && i % 3 == 0 {
                2
            } else {
                1
            };
            for s in 0..streams {
                let stream_type = if s % 2 == 0 { "order" } else { "customer" };
                let events: Vec<NewEvent> = (0..n)
                    .map(|k| {
                        NewEvent::new(
                            if k == 0 { "Placed" } else { "Confirmed" },
                            1,
                            json!({"stream": s, "i": i + k}),
                            EventMetadata {
                                correlation_id: Some(Uuid::now_v7()),
                                causation_id: Some(Uuid::now_v7()),
                                user_id: Some("tester".into()),
                                extra: [(
                                    "traceparent".to_owned(),
                                    json!(eventstore::TraceParent::new_root().to_string()),
                                )]
                                .into_iter()
                                .collect(),
                            },
                        )
                    })
                    .collect();
                ids.extend(events.iter().map(|e| e.event_id));
                self.store
                    .append(
                        &format!("{prefix}-{s}"),
                        stream_type,
                        ExpectedVersion::Any,
                        events,
                    )
                    .await
                    .expect("append");
            }
            i += n;
        }
        ids
    }

    async fn inbox_count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from inbox")
            .fetch_one(self.db().pool())
            .await
            .expect("count inbox")
    }

    /// Consumes until the inbox holds `expected` rows; returns everything applied, in order.
    async fn consume_until(&self, expected: i64) -> Vec<InboxEntry> {
        let mut applied = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let report = consume_available(self.db(), &self.consumer_config)
                .await
                .expect("consume");
            assert_eq!(report.rejected, 0);
            applied.extend(report.applied);
            if self.inbox_count().await >= expected {
                return applied;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "inbox has {} of {expected}",
                self.inbox_count().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn broker_messages(&self, url: &str) -> u64 {
        let client = async_nats::connect(url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let mut stream = js
            .get_stream(&self.relay_config.stream_name)
            .await
            .expect("stream");
        stream.info().await.expect("stream info").state.messages
    }

    async fn cleanup(self, url: Option<&str>) {
        if let Some(url) = url
            && let Ok(client) = async_nats::connect(url).await
        {
            let js = async_nats::jetstream::new(client);
            let _ = js.delete_stream(&self.relay_config.stream_name).await;
        }
        self.store.shutdown().await;
        self.test_db.cleanup().await;
    }
}

async fn wait_status(
    relay: &Relay,
    what: &str,
    pred: impl Fn(&RelayStatus) -> bool,
) -> RelayStatus {
    let mut rx = relay.subscribe_status();
    let waited = tokio::time::timeout(WAIT, async {
        loop {
            {
                let s = rx.borrow_and_update();
                if pred(&s) {
                    return s.clone();
                }
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone();
            }
        }
    })
    .await;
    match waited {
        Ok(s) if pred(&s) => s,
        _ => panic!("timed out waiting for {what}; status: {:?}", relay.status()),
    }
}

/// Waits until the relay saved a checkpoint equal to the log head.
async fn wait_caught_up(relay: &Relay, store: &SqlEventStore) -> RelayStatus {
    let head = store.head_position().await.expect("head");
    wait_status(relay, "caught up", |s| {
        s.state == RelayState::Connected && s.checkpoint == head && s.lag == 0
    })
    .await
}

/// Every appended event applied exactly once, and each stream's events in position order.
fn assert_exactly_once_in_order(applied: &[InboxEntry], ids: &[Uuid]) {
    let applied_ids: Vec<&str> = applied.iter().map(|e| e.event_id.as_str()).collect();
    let unique: HashSet<&str> = applied_ids.iter().copied().collect();
    assert_eq!(unique.len(), applied_ids.len(), "an event applied twice");
    let expected: HashSet<String> = ids.iter().map(Uuid::to_string).collect();
    let got: HashSet<String> = unique.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(got, expected, "applied events differ from appended ones");
    let mut per_stream: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for e in applied {
        per_stream
            .entry(e.stream_id.as_str())
            .or_default()
            .push((e.position, e.version));
    }
    for (stream, seen) in per_stream {
        assert!(
            seen.windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 + 1 == w[1].1),
            "stream {stream} applied out of order: {seen:?}"
        );
    }
}

async fn every_event_once_in_order(backend: Backend) {
    let url = nats_url();
    let fx = Fixture::new(backend, &url).await;
    // Some events exist before the relay starts, more arrive while it runs.
    let mut ids = fx.append("early", 3, 40).await;
    let relay = fx.start();
    let more = {
        let (a, b) = tokio::join!(fx.append("live-a", 3, 50), fx.append("live-b", 2, 30));
        [a, b].concat()
    };
    ids.extend(more);
    assert_eq!(ids.len(), 3 * 40 + 3 * 50 + 2 * 30);
    let status = wait_caught_up(&relay, &fx.store).await;
    assert_eq!(status.published_total, ids.len() as u64);
    assert!(status.last_error.is_none(), "{status:?}");
    assert_eq!(fx.broker_messages(&url).await, ids.len() as u64);

    // The headers carry the envelope's ids.
    {
        let client = async_nats::connect(url.as_str()).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let stream = js
            .get_stream(&fx.relay_config.stream_name)
            .await
            .expect("stream");
        let m = stream.get_raw_message(1).await.expect("message 1");
        let first = fx.store.read_all(0, 1).await.expect("read")[0].clone();
        let header = |k: &str| m.headers.get(k).map(|v| v.as_str().to_owned());
        assert_eq!(
            m.headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned()),
            Some(first.event_id.to_string())
        );
        assert_eq!(header("Eventide-Stream-Id"), Some(first.stream_id.clone()));
        assert_eq!(header("Eventide-Version"), Some("1".into()));
        assert_eq!(header("Eventide-Position"), Some("1".into()));
        assert_eq!(
            header("Eventide-Correlation-Id"),
            first.metadata.correlation_id.map(|c| c.to_string())
        );
        assert_eq!(
            header("Eventide-Causation-Id"),
            first.metadata.causation_id.map(|c| c.to_string())
        );
        assert_eq!(
            m.subject.as_str(),
            format!("{}.order.Placed", fx.relay_config.subject_prefix)
        );
        assert_eq!(
            header("traceparent"),
            first.metadata.trace_parent().map(|t| t.to_string())
        );

        // A CloudEvents consumer reads it: the SDK's binary-mode decoder (its HTTP binding: the
        // `ce-` headers and the body) gives back the event's identity, type, subject and time.
        let mut http_headers = http::HeaderMap::new();
        for (name, values) in m.headers.iter() {
            for value in values {
                http_headers.append(
                    http::HeaderName::from_bytes(name.to_string().as_bytes()).expect("name"),
                    http::HeaderValue::from_str(value.as_str()).expect("value"),
                );
            }
        }
        let event = cloudevents::binding::http::to_event(&http_headers, m.payload.to_vec())
            .expect("a CloudEvent in binary mode");
        use cloudevents::AttributesReader as _;
        assert_eq!(event.specversion(), cloudevents::event::SpecVersion::V10);
        assert_eq!(event.id(), first.event_id.to_string());
        assert_eq!(event.source().to_string(), "/eventide/order");
        assert_eq!(event.ty(), "eventide.order.Placed.v1");
        assert_eq!(event.subject(), Some(first.stream_id.as_str()));
        assert_eq!(
            event.time().map(|t| t.timestamp_micros()),
            Some(first.recorded_at.timestamp_micros())
        );
        assert_eq!(event.datacontenttype(), Some("application/json"));
        let data: serde_json::Value = match event.data() {
            Some(cloudevents::Data::Json(v)) => v.clone(),
            Some(cloudevents::Data::Binary(b)) => serde_json::from_slice(b).expect("json"),
            other => panic!("unexpected data {other:?}"),
        };
        assert_eq!(data["event_id"], json!(first.event_id));
        assert_eq!(data["data"], first.data);
    }

    let applied = fx.consume_until(ids.len() as i64).await;
    assert_exactly_once_in_order(&applied, &ids);
    assert_eq!(fx.inbox_count().await, ids.len() as i64);
    relay.shutdown().await;
    fx.cleanup(Some(&url)).await;
}

#[tokio::test]
async fn every_event_arrives_once_in_order_sqlite() {
    every_event_once_in_order(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_event_arrives_once_in_order_postgres() {
    every_event_once_in_order(Backend::Postgres).await;
}

#[tokio::test]
async fn republish_after_checkpoint_reset_is_deduplicated() {
    let url = nats_url();
    let fx = Fixture::new(Backend::Sqlite, &url).await;
    let ids = fx.append("s", 4, 50).await;
    let relay = fx.start();
    wait_caught_up(&relay, &fx.store).await;
    let applied = fx.consume_until(ids.len() as i64).await;
    assert_exactly_once_in_order(&applied, &ids);
    relay.shutdown().await;

    // Restart from an older checkpoint: everything after it is published again.
    fx.db()
        .save_checkpoint(&fx.relay_config.checkpoint_name, 0)
        .await
        .expect("reset checkpoint");
    let relay = fx.start();
    let status = wait_caught_up(&relay, &fx.store).await;
    assert_eq!(
        status.published_total,
        ids.len() as u64,
        "re-sent and acked"
    );
    assert_eq!(
        fx.broker_messages(&url).await,
        ids.len() as u64,
        "JetStream dropped the re-sent messages by Nats-Msg-Id"
    );
    let report = consume_available(fx.db(), &fx.consumer_config)
        .await
        .expect("consume");
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(fx.inbox_count().await, ids.len() as i64);
    relay.shutdown().await;
    fx.cleanup(Some(&url)).await;
}

#[tokio::test]
async fn relay_aborted_mid_flight_resumes_without_gap_or_duplicate_effect() {
    let url = nats_url();
    let fx = Fixture::new(Backend::Sqlite, &url).await;
    let ids_before = fx.append("pre", 4, 250).await;
    let relay = fx.start();
    // Let it get part of the way, then kill it like a crash.
    wait_status(&relay, "some progress", |s| s.published_total > 0).await;
    relay.abort();
    let after_abort = fx
        .db()
        .load_checkpoint(&fx.relay_config.checkpoint_name)
        .await
        .expect("checkpoint");
    let head = fx.store.head_position().await.expect("head");
    assert!(after_abort > 0 && after_abort <= head);
    let ids_after = fx.append("post", 2, 20).await;
    let relay = fx.start();
    wait_caught_up(&relay, &fx.store).await;
    let ids = [ids_before, ids_after].concat();
    assert_eq!(fx.broker_messages(&url).await, ids.len() as u64);
    let applied = fx.consume_until(ids.len() as i64).await;
    assert_exactly_once_in_order(&applied, &ids);
    assert_eq!(fx.inbox_count().await, ids.len() as i64);
    relay.shutdown().await;
    fx.cleanup(Some(&url)).await;
}

#[tokio::test]
async fn no_broker_configured_means_disabled() {
    let fx = Fixture::new(Backend::Sqlite, "unused").await;
    let relay = Relay::start(
        fx.store.clone(),
        RelayConfig {
            broker_url: None,
            ..fx.relay_config.clone()
        },
    );
    let ids = fx.append("s", 2, 5).await;
    assert_eq!(ids.len(), 10);
    assert_eq!(fx.store.head_position().await.expect("head"), 10);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = relay.status();
    assert_eq!(status.state, RelayState::Disabled);
    assert_eq!(status.detail, "disabled: no broker configured");
    assert_eq!(status.published_total, 0);
    assert_eq!(
        fx.db()
            .load_checkpoint(&fx.relay_config.checkpoint_name)
            .await
            .expect("checkpoint"),
        0
    );
    relay.shutdown().await;
    fx.cleanup(None).await;
}

#[tokio::test]
async fn unreachable_broker_does_not_block_start_and_shows_the_outage() {
    let url = format!("nats://127.0.0.1:{}", free_port());
    let fx = Fixture::new(Backend::Sqlite, &url).await;
    let started = std::time::Instant::now();
    let relay = fx.start();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "start blocked"
    );
    fx.append("s", 2, 5).await;
    let status = wait_status(&relay, "backing off", |s| {
        s.state == RelayState::BackingOff && s.last_error.is_some() && s.lag == 10
    })
    .await;
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("connect"),
        "{status:?}"
    );
    relay.shutdown().await;
    fx.cleanup(None).await;
}

#[tokio::test]
async fn existing_stream_with_a_small_duplicate_window_is_updated() {
    let url = nats_url();
    let fx = Fixture::new(Backend::Sqlite, &url).await;
    let client = async_nats::connect(url.as_str()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: fx.relay_config.stream_name.clone(),
        subjects: vec![fx.relay_config.stream_subject()],
        duplicate_window: Duration::from_secs(10),
        ..Default::default()
    })
    .await
    .expect("create stream");
    let relay = fx.start();
    fx.append("s", 1, 3).await;
    wait_caught_up(&relay, &fx.store).await;
    let mut stream = js
        .get_stream(&fx.relay_config.stream_name)
        .await
        .expect("stream");
    let info = stream.info().await.expect("info");
    assert!(info.config.duplicate_window >= Duration::from_secs(120));
    relay.shutdown().await;
    fx.cleanup(Some(&url)).await;
}

// ---- broker outage with a private nats-server --------------------------------------------

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A nats-server of this test (killed on drop).
struct PrivateNats {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl PrivateNats {
    async fn start(port: u16, dir: PathBuf) -> Self {
        let child = Command::new(NATS_SERVER)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nats-server");
        let me = Self {
            child: Some(child),
            port,
            dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("private nats-server did not come up on {port}");
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn broker_outage_is_visible_and_heals_without_restart() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("eventide_nats_{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("store dir");
    let mut nats = PrivateNats::start(port, dir.clone()).await;
    let url = nats.url();
    let fx = Fixture::new(Backend::Sqlite, &url).await;
    let relay = fx.start();
    let mut ids = fx.append("before", 3, 20).await;
    wait_caught_up(&relay, &fx.store).await;

    nats.kill();
    ids.extend(fx.append("during", 3, 20).await);
    let status = wait_status(&relay, "backing off with lag", |s| {
        s.state == RelayState::BackingOff && s.lag > 0 && s.last_error.is_some()
    })
    .await;
    assert_eq!(status.checkpoint, 60, "{status:?}");
    eprintln!("during the outage: {status:?}");

    let nats = PrivateNats::start(port, nats.dir.clone()).await;
    ids.extend(fx.append("after", 2, 10).await);
    let status = wait_caught_up(&relay, &fx.store).await;
    assert_eq!(status.checkpoint, ids.len() as i64);
    assert_eq!(fx.broker_messages(&url).await, ids.len() as u64);
    let applied = fx.consume_until(ids.len() as i64).await;
    assert_exactly_once_in_order(&applied, &ids);
    relay.shutdown().await;
    fx.cleanup(None).await;
    drop(nats);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Issue 16 item 5 (relay): an event the upcaster refuses faults the relay visibly instead of
// making it retry forever; an operator retries it after a fix or skips it; nothing is lost.

/// `Refusable` v1 events whose data says `"bad": true` are refused (the "old" upcaster).
fn refusing_upcasters() -> UpcasterRegistry {
    UpcasterRegistry::new().with("Refusable", 1, |data| {
        if data.get("bad").and_then(serde_json::Value::as_bool) == Some(true) {
            Err("the test upcaster refuses this event".to_owned())
        } else {
            Ok(data)
        }
    })
}

/// The "fixed" upcaster: every `Refusable` v1 becomes v2.
fn fixed_upcasters() -> UpcasterRegistry {
    UpcasterRegistry::new().with("Refusable", 1, Ok)
}

/// Appends 3 readable events, the refused one (position 4), 2 readable ones; returns the id
/// of the refused one.
async fn append_with_refused(store: &SqlEventStore) -> Uuid {
    let note = |n: u32| NewEvent::new("Noted", 1, json!({ "n": n }), EventMetadata::default());
    for n in 1..=3 {
        store
            .append("note-a", "note", ExpectedVersion::Any, vec![note(n)])
            .await
            .expect("append");
    }
    let refused = NewEvent::new(
        "Refusable",
        1,
        json!({ "bad": true }),
        EventMetadata::default(),
    );
    let refused_id = refused.event_id;
    store
        .append("legacy-1", "legacy", ExpectedVersion::Any, vec![refused])
        .await
        .expect("append the refused event");
    for n in 4..=5 {
        store
            .append("note-b", "note", ExpectedVersion::Any, vec![note(n)])
            .await
            .expect("append");
    }
    refused_id
}

async fn relay_dead_letters(db: &Db) -> Vec<(String, Option<String>, Option<String>)> {
    sqlx::query(
        "select event_id, resolution, reason from projection_dead_letters \
         where projection = 'relay:test' order by id",
    )
    .fetch_all(db.pool())
    .await
    .expect("relay dead letters")
    .iter()
    .map(|row| {
        use sqlx::Row as _;
        (
            row.get::<String, _>(0),
            row.get::<Option<String>, _>(1),
            row.get::<Option<String>, _>(2),
        )
    })
    .collect()
}

/// Waits until the relay is faulted on position 4 (the refused event) and checks what shows.
async fn wait_faulted(relay: &Relay, refused_id: Uuid, published: u64) -> RelayStatus {
    let status = wait_status(relay, "faulted on the refused event", |s| {
        s.state == RelayState::Faulted
    })
    .await;
    let fault = status.fault.clone().expect("the fault is in the status");
    assert_eq!(fault.position, 4, "{status:?}");
    assert_eq!(fault.event_id, refused_id, "{status:?}");
    assert_eq!(fault.stream_id, "legacy-1");
    assert_eq!(fault.version, 1);
    assert_eq!(fault.event_type, "Refusable");
    assert!(fault.error.contains("refuses this event"), "{status:?}");
    // Everything before it was published and the checkpoint stands right before it.
    assert_eq!(status.checkpoint, 3, "{status:?}");
    assert_eq!(status.published_total, published, "{status:?}");
    let shown = serde_json::to_value(&status).expect("status json");
    assert_eq!(shown["state"], "faulted");
    assert_eq!(shown["fault"]["position"], 4);
    status
}

async fn unreadable_event_faults_the_relay(backend: Backend) {
    let url = nats_url();
    let fx = Fixture::with_upcasters(backend, &url, refusing_upcasters()).await;
    let refused_id = append_with_refused(&fx.store).await;
    let relay = fx.start();
    wait_faulted(&relay, refused_id, 3).await;

    // It stays faulted: no retry loop publishes past it or skips it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let still = relay.status();
    assert_eq!(still.state, RelayState::Faulted, "{still:?}");
    assert_eq!((still.checkpoint, still.published_total), (3, 3));
    assert_eq!(fx.broker_messages(&url).await, 3);
    assert_eq!(
        relay_dead_letters(fx.db()).await,
        vec![(refused_id.to_string(), None, None)]
    );

    // A retry with the upcaster still refusing faults on the same event again.
    relay.retry("tester").await.expect("retry");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let letters = relay_dead_letters(fx.db()).await;
        if letters.len() == 2 && letters[1].1.is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new fault after the retry: {letters:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_faulted(&relay, refused_id, 3).await;
    // A skip needs a reason.
    assert!(relay.skip("  ", "tester").await.is_err());

    // Skip: the relay goes on with the events after it; the refused one is never published.
    let skipped = relay
        .skip("legacy test event, unreadable by design", "tester")
        .await
        .expect("skip");
    assert_eq!(skipped.event_id, refused_id);
    let status = wait_caught_up(&relay, &fx.store).await;
    assert_eq!(status.checkpoint, 6);
    assert_eq!(status.published_total, 5, "{status:?}");
    assert!(status.fault.is_none());
    assert_eq!(fx.broker_messages(&url).await, 5);
    let letters = relay_dead_letters(fx.db()).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert_eq!(letters[0].1.as_deref(), Some("retried"));
    assert_eq!(letters[1].1.as_deref(), Some("skipped"));
    assert_eq!(
        letters[1].2.as_deref(),
        Some("legacy test event, unreadable by design")
    );
    let applied = fx.consume_until(5).await;
    assert!(applied.iter().all(|e| e.event_id != refused_id.to_string()));
    // Nothing is faulted any more.
    assert!(relay.retry("tester").await.is_err());
    relay.shutdown().await;
    fx.cleanup(Some(&url)).await;
}

async fn unreadable_event_is_retried_after_a_fix(backend: Backend) {
    let url = nats_url();
    let fx = Fixture::with_upcasters(backend, &url, refusing_upcasters()).await;
    let refused_id = append_with_refused(&fx.store).await;
    let relay = fx.start();
    wait_faulted(&relay, refused_id, 3).await;
    relay.shutdown().await;

    // "Deploy" the fixed upcaster: a new store and relay on the same database. The open fault
    // holds the new relay too until the operator retries.
    let fixed = SqlEventStore::open(fx.db().clone(), fixed_upcasters())
        .await
        .expect("open the fixed store");
    let relay = Relay::start(fixed.clone(), fx.relay_config.clone());
    wait_faulted(&relay, refused_id, 0).await;
    relay.retry("tester").await.expect("retry after the fix");
    let status = wait_caught_up(&relay, &fixed).await;
    assert_eq!(status.checkpoint, 6);
    assert!(status.fault.is_none());
    assert_eq!(fx.broker_messages(&url).await, 6);
    let applied = fx.consume_until(6).await;
    assert!(applied.iter().any(|e| e.event_id == refused_id.to_string()));
    assert_eq!(
        relay_dead_letters(fx.db()).await,
        vec![(refused_id.to_string(), Some("retried".to_owned()), None)]
    );
    relay.shutdown().await;
    fixed.shutdown().await;
    fx.cleanup(Some(&url)).await;
}

#[tokio::test]
async fn unreadable_event_faults_the_relay_until_skipped_sqlite() {
    unreadable_event_faults_the_relay(Backend::Sqlite).await;
}

#[tokio::test]
async fn unreadable_event_faults_the_relay_until_skipped_postgres() {
    unreadable_event_faults_the_relay(Backend::Postgres).await;
}

#[tokio::test]
async fn unreadable_event_is_published_after_a_fix_and_retry_sqlite() {
    unreadable_event_is_retried_after_a_fix(Backend::Sqlite).await;
}

#[tokio::test]
async fn unreadable_event_is_published_after_a_fix_and_retry_postgres() {
    unreadable_event_is_retried_after_a_fix(Backend::Postgres).await;
}
