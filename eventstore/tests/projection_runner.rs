//! The projection runner against SQLite and PostgreSQL (fresh database per test): catch-up and
//! live follow, abrupt stop mid-batch, poison events (fault, retry, skip), zero-downtime rebuild.
//!
//! The test projection counts events per stream into its own table, one row per
//! (generation, stream); it can be told to fail on chosen event ids and to stop inside `apply`
//! at a chosen point (to abort a runner mid-batch or to hold a rebuild still).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventstore::projection::{
    LIVE_GENERATION, Projection, ProjectionRunner, ProjectionState, RunnerConfig, RunnerError,
};
use eventstore::testing::TestDb;
use eventstore::{
    Backend, Db, EventMetadata, EventStore as _, ExpectedVersion, NewEvent, RecordedEvent,
    SqlEventStore, UpcasterRegistry,
};
use sqlx::AnyConnection;
use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

type Counts = BTreeMap<String, i64>;

/// Generous bound for things that normally take milliseconds; only reached when broken.
const PATIENCE: Duration = Duration::from_secs(60);

/// Where the test projection stops inside `apply`.
struct Hold {
    generation: Option<i64>,
    position: Option<i64>,
    reached: Option<oneshot::Sender<()>>,
    release: Arc<Notify>,
}

struct Counter {
    name: &'static str,
    table: &'static str,
    poison: Mutex<HashSet<Uuid>>,
    hold: Mutex<Option<Hold>>,
}

impl Counter {
    fn new(name: &'static str, table: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            table,
            poison: Mutex::new(HashSet::new()),
            hold: Mutex::new(None),
        })
    }

    async fn create_table(&self, db: &Db) {
        sqlx::query(&format!(
            "create table {} (generation bigint not null, stream_id text not null, \
             count bigint not null, primary key (generation, stream_id))",
            self.table
        ))
        .execute(db.pool())
        .await
        .unwrap();
    }

    fn poison(&self, id: Uuid) {
        self.poison.lock().unwrap().insert(id);
    }

    fn cure(&self) {
        self.poison.lock().unwrap().clear();
    }

    /// Makes `apply` stop at the first event matching `generation` / `position`; returns
    /// (reached, release).
    fn hold_at(
        &self,
        generation: Option<i64>,
        position: Option<i64>,
    ) -> (oneshot::Receiver<()>, Arc<Notify>) {
        let (tx, rx) = oneshot::channel();
        let release = Arc::new(Notify::new());
        *self.hold.lock().unwrap() = Some(Hold {
            generation,
            position,
            reached: Some(tx),
            release: release.clone(),
        });
        (rx, release)
    }
}

#[async_trait]
impl Projection for Counter {
    fn name(&self) -> &'static str {
        self.name
    }

    /// Streams named `ignored-*` are not this projection's business.
    fn handles(&self, event: &RecordedEvent) -> bool {
        !event.stream_id.starts_with("ignored-")
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        let release = {
            let mut hold = self.hold.lock().unwrap();
            let hit = hold.as_ref().is_some_and(|h| {
                h.generation.is_none_or(|g| g == generation)
                    && h.position.is_none_or(|p| p == event.position)
            });
            if hit {
                hold.take().map(|mut h| {
                    if let Some(reached) = h.reached.take() {
                        let _ = reached.send(());
                    }
                    h.release
                })
            } else {
                None
            }
        };
        if let Some(release) = release {
            release.notified().await;
        }
        if self.poison.lock().unwrap().contains(&event.event_id) {
            anyhow::bail!("poisoned event {}", event.event_id);
        }
        if event.data.get("garbage").is_some() {
            anyhow::bail!("garbage in event {}", event.event_id);
        }
        sqlx::query(&format!(
            "insert into {t} (generation, stream_id, count) values ($1, $2, 1) \
             on conflict (generation, stream_id) do update set count = {t}.count + 1",
            t = self.table
        ))
        .bind(generation)
        .bind(&event.stream_id)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    async fn drop_generation(
        &self,
        conn: &mut AnyConnection,
        generation: i64,
    ) -> anyhow::Result<()> {
        sqlx::query(&format!("delete from {} where generation = $1", self.table))
            .bind(generation)
            .execute(conn)
            .await?;
        Ok(())
    }
}

async fn open(backend: Backend) -> (TestDb, Arc<SqlEventStore>) {
    let test_db = TestDb::new(backend).await.unwrap();
    let store = SqlEventStore::open(test_db.db().clone(), UpcasterRegistry::new())
        .await
        .unwrap();
    (test_db, Arc::new(store))
}

async fn close(test_db: TestDb, store: Arc<SqlEventStore>, runner: ProjectionRunner) {
    runner.shutdown().await;
    drop(runner);
    store.shutdown().await;
    test_db.cleanup().await;
}

fn event() -> NewEvent {
    NewEvent::new(
        "Counted",
        1,
        serde_json::json!({}),
        EventMetadata::default(),
    )
}

/// Appends `events` to `stream`, counting them into `expected`; returns the last position.
async fn append(
    store: &SqlEventStore,
    stream: &str,
    events: Vec<NewEvent>,
    expected: &mut Counts,
) -> i64 {
    let n = events.len() as i64;
    let result = store
        .append(stream, "test", ExpectedVersion::Any, events)
        .await
        .unwrap();
    *expected.entry(stream.to_owned()).or_default() += n;
    result.last_position
}

/// `total` events spread over `streams` streams, in appends of up to 100.
async fn append_spread(
    store: &SqlEventStore,
    streams: usize,
    total: usize,
    expected: &mut Counts,
) -> i64 {
    let mut last = 0;
    let mut left = total;
    let mut i = 0;
    while left > 0 {
        let n = left.min(100);
        let events = (0..n).map(|_| event()).collect();
        last = append(store, &format!("s-{}", i % streams), events, expected).await;
        left -= n;
        i += 1;
    }
    last
}

async fn counts_of(db: &Db, table: &str, generation: i64) -> Counts {
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "select stream_id, count from {table} where generation = $1"
    ))
    .bind(generation)
    .fetch_all(db.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// What a query of the read model sees: the live generation only.
async fn live_counts(db: &Db, name: &str, table: &str) -> Counts {
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "select stream_id, count from {table} where generation = {LIVE_GENERATION}"
    ))
    .bind(name)
    .fetch_all(db.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}

async fn db_checkpoint(db: &Db, name: &str) -> Option<i64> {
    sqlx::query_scalar("select position from checkpoints where name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await
        .unwrap()
}

/// Polls `runner`'s status of `name` until `done` holds.
async fn wait_status(
    runner: &ProjectionRunner,
    name: &str,
    done: impl Fn(&eventstore::projection::ProjectionStatusInfo) -> bool,
) -> eventstore::projection::ProjectionStatusInfo {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = runner.status_of(name).unwrap();
        if done(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status of {name} never matched: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn fast_retries() -> RunnerConfig {
    RunnerConfig {
        max_attempts: 3,
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(10),
        ..RunnerConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------

async fn catches_up_and_follows(backend: Backend) {
    let (test_db, store) = open(backend).await;
    let db = test_db.db().clone();
    let counter = Counter::new("counts", "counts");
    counter.create_table(&db).await;
    let mut expected = Counts::new();
    let head = append_spread(&store, 5, 1234, &mut expected).await;

    let runner = ProjectionRunner::start(
        store.clone(),
        vec![counter.clone()],
        RunnerConfig::default(),
    )
    .await
    .unwrap();
    assert!(runner.wait_for("counts", head, PATIENCE).await.unwrap());
    assert_eq!(runner.checkpoint("counts").unwrap(), head);
    assert_eq!(db_checkpoint(&db, "projection:counts:1").await, Some(head));
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);
    let status = wait_status(&runner, "counts", |s| s.head == head).await;
    assert_eq!(status.state, ProjectionState::Running);
    assert_eq!(
        (status.generation, status.checkpoint, status.lag),
        (1, head, 0)
    );
    assert!(status.fault.is_none() && status.rebuild.is_none());

    // Live: a new commit arrives through the head watch and is announced.
    let mut notifications = runner.subscribe();
    let new_head = append(
        &store,
        "s-new",
        (0..7).map(|_| event()).collect(),
        &mut expected,
    )
    .await;
    assert!(runner.wait_for("counts", new_head, PATIENCE).await.unwrap());
    assert!(runner.wait_for_all(new_head, PATIENCE).await);
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);
    let batch = tokio::time::timeout(PATIENCE, notifications.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batch.projection, "counts");
    assert_eq!(
        (batch.first_position, batch.last_position),
        (head + 1, new_head)
    );
    assert_eq!(batch.streams, vec!["s-new".to_owned()]);
    assert_eq!((batch.event_count, batch.swapped), (7, false));

    // Events the projection does not handle: checkpointed, not applied, announced with no
    // streams (the live hub publishes nothing for such a batch).
    let ignored_head = append(
        &store,
        "ignored-1",
        (0..3).map(|_| event()).collect(),
        &mut Counts::new(),
    )
    .await;
    assert!(
        runner
            .wait_for("counts", ignored_head, PATIENCE)
            .await
            .unwrap()
    );
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);
    let batch = tokio::time::timeout(PATIENCE, notifications.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batch.last_position, ignored_head);
    assert!(batch.streams.is_empty(), "{:?}", batch.streams);
    let new_head = ignored_head;

    // A position nobody wrote is not reached.
    assert!(
        !runner
            .wait_for("counts", new_head + 1, Duration::from_millis(50))
            .await
            .unwrap()
    );
    assert!(matches!(
        runner.wait_for("nope", 1, Duration::from_millis(1)).await,
        Err(RunnerError::UnknownProjection(_))
    ));

    runner.shutdown().await;
    assert_eq!(
        runner.status_of("counts").unwrap().state,
        ProjectionState::Stopped
    );
    close(test_db, store, runner).await;
}

async fn abrupt_stop_mid_batch(backend: Backend) {
    let (test_db, store) = open(backend).await;
    let db = test_db.db().clone();
    let counter = Counter::new("counts", "counts");
    counter.create_table(&db).await;
    let mut expected = Counts::new();
    let head = append_spread(&store, 3, 1200, &mut expected).await;

    // Batches of 500: 1..=500 commits, the task stops inside 501..=1000 at 900.
    let (reached, _never) = counter.hold_at(None, Some(900));
    let runner = ProjectionRunner::start(
        store.clone(),
        vec![counter.clone()],
        RunnerConfig {
            batch_size: 500,
            ..RunnerConfig::default()
        },
    )
    .await
    .unwrap();
    tokio::time::timeout(PATIENCE, reached)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(runner.checkpoint("counts").unwrap(), 500);
    drop(runner); // aborts the task inside its transaction

    // What is stored matches the stored checkpoint: 399 applied events vanished with the batch.
    let checkpoint = db_checkpoint(&db, "projection:counts:1").await;
    assert_eq!(checkpoint, Some(500));
    let stored: i64 = counts_of(&db, "counts", 1).await.values().sum();
    assert_eq!(stored, 500);

    let restarted = Counter::new("counts", "counts");
    let runner = ProjectionRunner::start(store.clone(), vec![restarted], RunnerConfig::default())
        .await
        .unwrap();
    assert!(runner.wait_for("counts", head, PATIENCE).await.unwrap());
    assert_eq!(
        counts_of(&db, "counts", 1).await,
        expected,
        "nothing applied twice"
    );
    assert_eq!(db_checkpoint(&db, "projection:counts:1").await, Some(head));
    close(test_db, store, runner).await;
}

/// Two counting projections, `a` and `b`, with their tables.
async fn counters_a_and_b(db: &Db) -> (Arc<Counter>, Arc<Counter>) {
    let a = Counter::new("a", "a_counts");
    let b = Counter::new("b", "b_counts");
    a.create_table(db).await;
    b.create_table(db).await;
    (a, b)
}

async fn poison_event(backend: Backend) {
    let (test_db, store) = open(backend).await;
    let db = test_db.db().clone();
    let (a, b) = counters_a_and_b(&db).await;
    let mut expected = Counts::new();
    let events: Vec<NewEvent> = (0..10).map(|_| event()).collect();
    let poisoned = events[4].event_id; // position 5
    a.poison(poisoned);
    append(&store, "s-1", events, &mut expected).await;

    let runner = ProjectionRunner::start(store.clone(), vec![a.clone(), b.clone()], fast_retries())
        .await
        .unwrap();
    let status = wait_status(&runner, "a", |s| s.state == ProjectionState::Faulted).await;
    let fault = status.fault.unwrap();
    assert_eq!(
        (fault.event_id, fault.position, fault.generation),
        (poisoned, 5, 1)
    );
    assert_eq!((fault.event_type.as_str(), fault.attempts), ("Counted", 3));
    assert!(fault.error.contains("poisoned"), "{}", fault.error);
    assert_eq!(
        status.checkpoint, 4,
        "the events before the poison one are kept"
    );
    let row: (
        String,
        i64,
        String,
        i64,
        String,
        String,
        i64,
        Option<String>,
    ) = sqlx::query_as(
        "select projection, generation, event_id, position, event_type, error, attempts, \
         resolution from projection_dead_letters",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(
        (
            row.0.as_str(),
            row.1,
            row.2,
            row.3,
            row.4.as_str(),
            row.6,
            row.7
        ),
        ("a", 1, poisoned.to_string(), 5, "Counted", 3, None)
    );
    assert!(row.5.contains("poisoned"));

    // The other projection keeps running.
    let head = append(
        &store,
        "s-2",
        (0..5).map(|_| event()).collect(),
        &mut expected,
    )
    .await;
    assert!(runner.wait_for("b", head, PATIENCE).await.unwrap());
    assert_eq!(live_counts(&db, "b", "b_counts").await, expected);
    assert_eq!(
        runner.status_of("a").unwrap().state,
        ProjectionState::Faulted
    );
    assert_eq!(runner.checkpoint("a").unwrap(), 4);

    // Fixed and retried: resumes from the poison event.
    a.cure();
    runner.retry("a", "tester").await.unwrap();
    assert!(runner.wait_for("a", head, PATIENCE).await.unwrap());
    assert_eq!(live_counts(&db, "a", "a_counts").await, expected);
    let status = runner.status_of("a").unwrap();
    assert!(status.fault.is_none() && status.state != ProjectionState::Faulted);
    let resolution: Option<String> =
        sqlx::query_scalar("select resolution from projection_dead_letters where position = 5")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(resolution.as_deref(), Some("retried"));
    assert!(matches!(
        runner.retry("a", "tester").await,
        Err(RunnerError::NotFaulted(_))
    ));
    assert!(matches!(
        runner.skip("a", "x", "y").await,
        Err(RunnerError::NotFaulted(_))
    ));

    // Skipped with a reason: moves past exactly that event.
    let events: Vec<NewEvent> = (0..3).map(|_| event()).collect();
    let skipped = events[1].event_id;
    a.poison(skipped);
    let head = append(&store, "s-3", events, &mut expected).await;
    let fault = wait_status(&runner, "a", |s| s.state == ProjectionState::Faulted)
        .await
        .fault
        .unwrap();
    assert_eq!((fault.event_id, fault.position), (skipped, head - 1));
    runner
        .skip("a", "malformed legacy event", "alice")
        .await
        .unwrap();
    assert!(runner.wait_for("a", head, PATIENCE).await.unwrap());
    let mut without_skipped = expected.clone();
    *without_skipped.entry("s-3".to_owned()).or_default() -= 1;
    assert_eq!(live_counts(&db, "a", "a_counts").await, without_skipped);
    assert_eq!(live_counts(&db, "b", "b_counts").await, expected);
    let (resolution, reason, who, at): (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
    ) = sqlx::query_as(
        "select resolution, reason, resolved_by, resolved_at_us from projection_dead_letters \
             where event_id = $1",
    )
    .bind(skipped.to_string())
    .fetch_one(&mut *db.pool().acquire().await.unwrap())
    .await
    .unwrap();
    assert_eq!(resolution.as_deref(), Some("skipped"));
    assert_eq!(reason.as_deref(), Some("malformed legacy event"));
    assert_eq!(who.as_deref(), Some("alice"));
    assert!(at.is_some_and(|t| t > 0));
    close(test_db, store, runner).await;
}

async fn rebuild_under_load(backend: Backend) {
    let (test_db, store) = open(backend).await;
    let db = test_db.db().clone();
    let counter = Counter::new("counts", "counts");
    let other = Counter::new("other", "other_counts");
    counter.create_table(&db).await;
    other.create_table(&db).await;
    let mut expected = Counts::new();
    let head = append_spread(&store, 4, 1000, &mut expected).await;
    let config = RunnerConfig {
        batch_size: 100,
        ..RunnerConfig::default()
    };
    let runner =
        ProjectionRunner::start(store.clone(), vec![counter.clone(), other.clone()], config)
            .await
            .unwrap();
    assert!(runner.wait_for_all(head, PATIENCE).await);
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);

    // Hold the rebuild inside its first batch to look at it.
    let (reached, release) = counter.hold_at(Some(2), None);
    let mut notifications = runner.subscribe();
    assert_eq!(runner.rebuild("counts").await.unwrap(), 2);
    tokio::time::timeout(PATIENCE, reached)
        .await
        .unwrap()
        .unwrap();
    match runner.rebuild("counts").await {
        Err(RunnerError::RebuildInProgress {
            projection,
            generation,
        }) => {
            assert_eq!((projection.as_str(), generation), ("counts", 2));
        }
        other => panic!("expected RebuildInProgress, got {other:?}"),
    }
    let status = runner.status_of("counts").unwrap();
    assert_eq!(status.state, ProjectionState::Rebuilding);
    assert_eq!(status.generation, 1);
    let progress = status.rebuild.unwrap();
    assert_eq!(
        (progress.generation, progress.processed, progress.total),
        (2, 0, head)
    );
    assert_eq!(
        live_counts(&db, "counts", "counts").await,
        expected,
        "live keeps answering"
    );

    // Appends continue while the rebuild runs; readers see the live generation throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = store.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut appended = Counts::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 200 {
                let events = (0..5).map(|_| event()).collect();
                append(&store, &format!("s-{}", i % 6), events, &mut appended).await;
                i += 1;
            }
            appended
        })
    };
    release.notify_one();
    let mut last_total = 0;
    let mut progress_seen = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let total: i64 = live_counts(&db, "counts", "counts").await.values().sum();
        assert!(
            total >= last_total,
            "a reader saw the read model shrink: {total} < {last_total}"
        );
        assert!(total >= head, "a reader saw a partial generation: {total}");
        last_total = total;
        let status = runner.status_of("counts").unwrap();
        match status.rebuild {
            Some(p) => {
                assert!(p.processed <= p.total, "{p:?}");
                progress_seen.push((p.processed, p.total));
            }
            None if status.generation == 2 => break,
            None => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rebuild never finished"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for (stream, n) in writer.await.unwrap() {
        *expected.entry(stream).or_default() += n;
    }
    assert!(!progress_seen.is_empty());
    let head = store.head_position().await.unwrap();
    assert!(runner.wait_for_all(head, PATIENCE).await);
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);
    assert_eq!(counts_of(&db, "counts", 2).await, expected);
    assert!(
        counts_of(&db, "counts", 1).await.is_empty(),
        "old generation dropped"
    );
    assert_eq!(db_checkpoint(&db, "projection:counts:1").await, None);
    assert_eq!(db_checkpoint(&db, "projection:counts:2").await, Some(head));
    let mut swapped = false;
    while let Ok(batch) = notifications.try_recv() {
        swapped |= batch.swapped && batch.projection == "counts" && batch.generation == 2;
    }
    assert!(swapped, "a swap notification was sent");

    // Rebuild all.
    let started = runner.rebuild_all().await.unwrap();
    let started: Vec<_> = started
        .iter()
        .map(|s| (s.projection.as_str(), s.generation, s.already_in_progress))
        .collect();
    assert_eq!(started, vec![("counts", 3, false), ("other", 2, false)]);
    wait_status(&runner, "counts", |s| {
        s.generation == 3 && s.rebuild.is_none()
    })
    .await;
    wait_status(&runner, "other", |s| {
        s.generation == 2 && s.rebuild.is_none()
    })
    .await;
    assert!(runner.wait_for_all(head, PATIENCE).await);
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);
    assert_eq!(live_counts(&db, "other", "other_counts").await, expected);
    assert!(counts_of(&db, "counts", 2).await.is_empty());
    assert!(counts_of(&db, "other_counts", 1).await.is_empty());
    close(test_db, store, runner).await;
}

async fn rebuild_resumes_after_restart(backend: Backend) {
    let (test_db, store) = open(backend).await;
    let db = test_db.db().clone();
    let counter = Counter::new("counts", "counts");
    counter.create_table(&db).await;
    let mut expected = Counts::new();
    let head = append_spread(&store, 3, 700, &mut expected).await;
    let config = || RunnerConfig {
        batch_size: 100,
        ..RunnerConfig::default()
    };
    let runner = ProjectionRunner::start(store.clone(), vec![counter.clone()], config())
        .await
        .unwrap();
    assert!(runner.wait_for("counts", head, PATIENCE).await.unwrap());
    // Crash inside the rebuild's fourth batch.
    let (reached, _never) = counter.hold_at(Some(2), Some(350));
    runner.rebuild("counts").await.unwrap();
    tokio::time::timeout(PATIENCE, reached)
        .await
        .unwrap()
        .unwrap();
    drop(runner);
    assert_eq!(db_checkpoint(&db, "projection:counts:2").await, Some(300));

    let runner = ProjectionRunner::start(
        store.clone(),
        vec![Counter::new("counts", "counts")],
        config(),
    )
    .await
    .unwrap();
    let status = runner.status_of("counts").unwrap();
    assert_eq!(
        status.rebuild.map(|r| r.generation),
        Some(2),
        "rebuild state is persisted"
    );
    wait_status(&runner, "counts", |s| {
        s.generation == 2 && s.rebuild.is_none()
    })
    .await;
    assert!(runner.wait_for("counts", head, PATIENCE).await.unwrap());
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);
    assert!(counts_of(&db, "counts", 1).await.is_empty());
    close(test_db, store, runner).await;
}

/// Batches the projection handles none of write nothing: the checkpoint moves in memory
/// (read-your-writes and the status follow it) and is stored with the next batch that writes,
/// at shutdown, or once the task has been idle for `checkpoint_defer`. A poison event right
/// after such batches is still counted and dead-lettered against the stored checkpoint.
async fn batches_that_change_nothing_defer_their_checkpoint(backend: Backend) {
    let (test_db, store) = open(backend).await;
    let db = test_db.db().clone();
    let counter = Counter::new("counts", "counts");
    counter.create_table(&db).await;
    let mut expected = Counts::new();
    let checkpoint = "projection:counts:1";
    let never = RunnerConfig {
        checkpoint_defer: Duration::from_secs(3600),
        ..RunnerConfig::default()
    };
    let runner = ProjectionRunner::start(store.clone(), vec![counter.clone()], never.clone())
        .await
        .unwrap();
    let h1 = append(&store, "s-1", vec![event(), event()], &mut expected).await;
    assert!(runner.wait_for("counts", h1, PATIENCE).await.unwrap());
    assert_eq!(db_checkpoint(&db, checkpoint).await, Some(h1));

    let h2 = append(
        &store,
        "ignored-1",
        vec![event(), event()],
        &mut Counts::new(),
    )
    .await;
    assert!(runner.wait_for("counts", h2, PATIENCE).await.unwrap());
    let status = wait_status(&runner, "counts", |s| s.head == h2).await;
    assert_eq!((status.checkpoint, status.lag), (h2, 0));
    assert_eq!(
        db_checkpoint(&db, checkpoint).await,
        Some(h1),
        "a batch that changes nothing is not written"
    );

    // The next batch that writes stores the checkpoint past the deferred ones too.
    let h3 = append(&store, "s-2", vec![event()], &mut expected).await;
    assert!(runner.wait_for("counts", h3, PATIENCE).await.unwrap());
    assert_eq!(db_checkpoint(&db, checkpoint).await, Some(h3));
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);

    // Shutdown stores a deferred checkpoint.
    let h4 = append(&store, "ignored-2", vec![event()], &mut Counts::new()).await;
    assert!(runner.wait_for("counts", h4, PATIENCE).await.unwrap());
    assert_eq!(db_checkpoint(&db, checkpoint).await, Some(h3));
    runner.shutdown().await;
    drop(runner);
    assert_eq!(db_checkpoint(&db, checkpoint).await, Some(h4));

    // An idle task stores it once `checkpoint_defer` has passed.
    let soon = RunnerConfig {
        checkpoint_defer: Duration::from_millis(100),
        ..fast_retries()
    };
    let runner = ProjectionRunner::start(store.clone(), vec![counter.clone()], soon)
        .await
        .unwrap();
    let h5 = append(
        &store,
        "ignored-3",
        vec![event(), event()],
        &mut Counts::new(),
    )
    .await;
    assert!(runner.wait_for("counts", h5, PATIENCE).await.unwrap());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while db_checkpoint(&db, checkpoint).await != Some(h5) {
        assert!(tokio::time::Instant::now() < deadline, "never stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A poison event right after a deferred batch: counted, dead-lettered, and the stored
    // checkpoint is right before it.
    let h6 = append(&store, "ignored-4", vec![event()], &mut Counts::new()).await;
    assert!(runner.wait_for("counts", h6, PATIENCE).await.unwrap());
    let poisoned = event();
    counter.poison(poisoned.event_id);
    let h7 = append(&store, "s-3", vec![poisoned], &mut Counts::new()).await;
    let status = wait_status(&runner, "counts", |s| s.state == ProjectionState::Faulted).await;
    let fault = status.fault.unwrap();
    assert_eq!((fault.position, fault.attempts), (h7, 3));
    assert_eq!(db_checkpoint(&db, checkpoint).await, Some(h6));
    assert_eq!(live_counts(&db, "counts", "counts").await, expected);
    close(test_db, store, runner).await;
}

/// An operator repairs a poison event's row and retries: the retry applies the row as it is
/// now, not the copy the runner's log cache held when the event failed (the other projection
/// read it too, so it was cached).
async fn retry_reads_a_repaired_event_again(backend: Backend) {
    let (test_db, store) = open(backend).await;
    let db = test_db.db().clone();
    let (a, b) = counters_a_and_b(&db).await;
    let runner = ProjectionRunner::start(store.clone(), vec![a.clone(), b.clone()], fast_retries())
        .await
        .unwrap();
    let mut expected = Counts::new();
    append(&store, "s-1", vec![event(), event()], &mut expected).await;
    let garbage = NewEvent::new(
        "Counted",
        1,
        serde_json::json!({ "garbage": true }),
        EventMetadata::default(),
    );
    let garbage_id = garbage.event_id;
    let bad = append(&store, "s-1", vec![garbage], &mut expected).await;
    let status = wait_status(&runner, "a", |s| s.state == ProjectionState::Faulted).await;
    assert_eq!(status.fault.unwrap().position, bad);
    // Both counters fail on it: the cache holds the event, read once for both.
    wait_status(&runner, "b", |s| s.state == ProjectionState::Faulted).await;
    let repair = match backend {
        Backend::Postgres => "update events set data = $1::jsonb where event_id = $2",
        Backend::Sqlite => "update events set data = $1 where event_id = $2",
    };
    sqlx::query(repair)
        .bind("{}")
        .bind(garbage_id.to_string())
        .execute(db.pool())
        .await
        .unwrap();
    runner.retry("a", "tester").await.unwrap();
    runner.retry("b", "tester").await.unwrap();
    assert!(runner.wait_for_all(bad, PATIENCE).await);
    assert_eq!(live_counts(&db, "a", "a_counts").await, expected);
    assert_eq!(live_counts(&db, "b", "b_counts").await, expected);
    close(test_db, store, runner).await;
}

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(eventstore::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(eventstore::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    catches_up_and_follows,
    abrupt_stop_mid_batch,
    poison_event,
    rebuild_under_load,
    rebuild_resumes_after_restart,
    batches_that_change_nothing_defer_their_checkpoint,
    retry_reads_a_repaired_event_again,
);

/// PostgreSQL, two instances: the standby follows a deferred checkpoint through the batch's
/// notice (read-your-writes on any instance), though the database does not hold it yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_follows_a_deferred_checkpoint_on_postgres() {
    let (test_db, store) = open(Backend::Postgres).await;
    let db = test_db.db().clone();
    let counter = Counter::new("counts", "counts");
    counter.create_table(&db).await;
    let config = |instance: &str| RunnerConfig {
        checkpoint_defer: Duration::from_secs(3600),
        instance: instance.to_owned(),
        ..RunnerConfig::default()
    };
    let holder = ProjectionRunner::start(store.clone(), vec![counter.clone()], config("holder"))
        .await
        .unwrap();
    let h1 = append(&store, "s-1", vec![event()], &mut Counts::new()).await;
    assert!(holder.wait_for("counts", h1, PATIENCE).await.unwrap());
    let standby = ProjectionRunner::start(store.clone(), vec![counter.clone()], config("standby"))
        .await
        .unwrap();
    wait_status(&standby, "counts", |s| {
        s.state == ProjectionState::Standby && s.checkpoint == h1
    })
    .await;
    let h2 = append(
        &store,
        "ignored-1",
        vec![event(), event()],
        &mut Counts::new(),
    )
    .await;
    assert!(standby.wait_for("counts", h2, PATIENCE).await.unwrap());
    assert_eq!(db_checkpoint(&db, "projection:counts:1").await, Some(h1));
    standby.shutdown().await;
    drop(standby);
    close(test_db, store, holder).await;
}

/// Records the transaction's `synchronous_commit` for each event it applies.
struct CommitMode;

#[async_trait]
impl Projection for CommitMode {
    fn name(&self) -> &'static str {
        "commit_mode"
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        _generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "insert into commit_modes (position, mode) \
             select $1, current_setting('synchronous_commit')",
        )
        .bind(event.position)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    async fn drop_generation(&self, conn: &mut AnyConnection, _: i64) -> anyhow::Result<()> {
        sqlx::query("delete from commit_modes")
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// PostgreSQL: a projection batch commits without waiting for the WAL flush (a read model is
/// derived, rebuilt from its checkpoint), and that stays inside the batch's transaction: the
/// pool's connections, the store's appends among them, keep `synchronous_commit = on`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_batches_commit_asynchronously_on_postgres() {
    let (test_db, store) = open(Backend::Postgres).await;
    let db = test_db.db().clone();
    sqlx::query("create table commit_modes (position bigint primary key, mode text not null)")
        .execute(db.pool())
        .await
        .unwrap();
    let mut expected = Counts::new();
    let head = append(
        &store,
        "s-1",
        vec![event(), event(), event()],
        &mut expected,
    )
    .await;
    let runner = ProjectionRunner::start(
        store.clone(),
        vec![Arc::new(CommitMode)],
        RunnerConfig::default(),
    )
    .await
    .unwrap();
    assert!(
        runner
            .wait_for("commit_mode", head, PATIENCE)
            .await
            .unwrap()
    );
    let modes: Vec<String> = sqlx::query_scalar("select mode from commit_modes order by position")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(modes, ["off", "off", "off"]);
    // The pooled connections (the batch's among them: idle ones are handed out first) are
    // back to `on`.
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(db.pool().acquire().await.unwrap());
    }
    for conn in &mut conns {
        let mode: String = sqlx::query_scalar("select current_setting('synchronous_commit')")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(mode, "on");
    }
    drop(conns);
    close(test_db, store, runner).await;
}
