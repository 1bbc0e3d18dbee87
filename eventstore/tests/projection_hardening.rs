//! Hardening of the projection runner (issue 16, items 4-7), against SQLite and PostgreSQL:
//!
//! - a batch re-applied after a lease takeover (two runners, lease sessions killed under load)
//!   is not a poison event: no fault, no dead letter, every event applied once;
//! - an event the upcaster refuses becomes a dead letter of each projection that handles it
//!   (skippable), while projections that do not handle it and appends on other streams go on;
//! - a panic in a projection's `apply` (or anywhere in its task) ends up Faulted with the panic
//!   message, never a dead task that still says Running;
//! - on SQLite, a rebuild of a large log (and the drop of the old generation) never makes a
//!   concurrent append fail, and queries always read a complete live generation.
//!
//! The test projection (`Ledger`) records one row per applied event with a plain insert on
//! (generation, position): applying an event twice fails on the primary key, like a real read
//! model's unique keys do.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use async_trait::async_trait;
use eventstore::projection::{
    LIVE_GENERATION, Projection, ProjectionRunner, ProjectionState, ProjectionStatusInfo,
    RunnerConfig,
};
use eventstore::testing::{TestDb, raw_append};
use eventstore::{
    Backend, Db, EventMetadata, EventStore as _, ExpectedVersion, NewEvent, RecordedEvent,
    SqlEventStore, UpcasterRegistry,
};
use sqlx::AnyConnection;
use uuid::Uuid;

/// Generous bound for things that normally take milliseconds; only reached when broken.
const PATIENCE: Duration = Duration::from_secs(90);

/// One row per applied event; see the file's docs.
struct Ledger {
    name: &'static str,
    table: &'static str,
    /// Events of this stream type are not its business.
    ignores: Option<&'static str>,
    /// `apply` panics on this event.
    panic_in_apply: Mutex<Option<Uuid>>,
    /// `handles` panics on this event.
    panic_in_handles: Mutex<Option<Uuid>>,
    /// Slept in each `apply` (slow read models).
    apply_delay: Duration,
}

impl Ledger {
    fn new(name: &'static str, table: &'static str) -> Self {
        Self {
            name,
            table,
            ignores: None,
            panic_in_apply: Mutex::new(None),
            panic_in_handles: Mutex::new(None),
            apply_delay: Duration::ZERO,
        }
    }

    fn ignoring(mut self, stream_type: &'static str) -> Self {
        self.ignores = Some(stream_type);
        self
    }

    async fn create_table(&self, db: &Db) -> anyhow::Result<()> {
        sqlx::query(&format!(
            "create table {} (generation bigint not null, position bigint not null, \
             primary key (generation, position))",
            self.table
        ))
        .execute(db.pool())
        .await?;
        Ok(())
    }

    fn armed(slot: &Mutex<Option<Uuid>>, event: &RecordedEvent) -> bool {
        slot.lock()
            .map(|id| *id == Some(event.event_id))
            .unwrap_or(false)
    }
}

#[async_trait]
impl Projection for Ledger {
    fn name(&self) -> &'static str {
        self.name
    }

    fn handles(&self, event: &RecordedEvent) -> bool {
        if Self::armed(&self.panic_in_handles, event) {
            panic!("handles exploded on {}", event.event_id);
        }
        self.ignores != Some(event.stream_type.as_str())
    }

    async fn apply(
        &self,
        tx: &mut AnyConnection,
        generation: i64,
        event: &RecordedEvent,
    ) -> anyhow::Result<()> {
        if Self::armed(&self.panic_in_apply, event) {
            panic!("apply exploded on {}", event.event_id);
        }
        if !self.apply_delay.is_zero() {
            tokio::time::sleep(self.apply_delay).await;
        }
        sqlx::query(&format!(
            "insert into {} (generation, position) values ($1, $2)",
            self.table
        ))
        .bind(generation)
        .bind(event.position)
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

fn counted() -> NewEvent {
    NewEvent::new(
        "Counted",
        1,
        serde_json::json!({}),
        EventMetadata::default(),
    )
}

fn config(instance: &str, batch_size: u32) -> RunnerConfig {
    RunnerConfig {
        batch_size,
        max_attempts: 3,
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(50),
        instance: instance.to_owned(),
        hold: None,
        ..RunnerConfig::default()
    }
}

/// (rows, distinct positions, highest position) of `table`'s live generation.
async fn live_ledger(db: &Db, name: &str, table: &str) -> anyhow::Result<(i64, i64, i64)> {
    Ok(sqlx::query_as(&format!(
        "select count(*), count(distinct position), coalesce(max(position), 0) from {table} \
         where generation = {LIVE_GENERATION}"
    ))
    .bind(name)
    .fetch_one(db.pool())
    .await?)
}

async fn dead_letters(db: &Db, name: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from projection_dead_letters where projection = $1")
            .bind(name)
            .fetch_one(db.pool())
            .await?,
    )
}

/// Polls the status of `name` until `done` holds.
async fn wait_status(
    runner: &ProjectionRunner,
    name: &str,
    done: impl Fn(&ProjectionStatusInfo) -> bool,
) -> anyhow::Result<ProjectionStatusInfo> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = runner.status_of(name)?;
        if done(&status) {
            return Ok(status);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "status of {name} never matched: {status:#?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Item 4: a re-applied batch is not a poison event.

/// Kills every session holding a projection lease (the runner's advisory locks, namespace
/// 0x0E7E) of this database; returns how many.
async fn kill_lease_sessions(db: &Db) -> anyhow::Result<i64> {
    let killed: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' \
         and granted and classid = 3710 and objsubid = 2 \
         and database = (select oid from pg_database where datname = current_database()) \
         and pid <> pg_backend_pid()",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(killed.len() as i64)
}

/// Three runners (three instances: own pools, own stores) on one PostgreSQL database, appends
/// running throughout, the lease sessions killed again and again so the lease moves back and
/// forth while a holder may still be finishing a batch. Before the fix the newcomer re-applied
/// the overlapping batch, failed on the primary key, counted that as a poison attempt and
/// dead-lettered an event that was already applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reapplied_batch_after_lease_takeover_is_not_poison_postgres() -> anyhow::Result<()> {
    let test_db = TestDb::postgres().await?;
    let db_a = test_db.db().clone();
    Ledger::new("ledger", "ledger_rows")
        .create_table(&db_a)
        .await?;
    // Three instances: two contenders make a takeover while the old holder still runs (it
    // notices a lost lease within a second) likely at every kill.
    let mut dbs = vec![db_a.clone()];
    for _ in 0..2 {
        dbs.push(Db::connect_with(db_a.url(), 6).await?);
    }
    let mut stores = Vec::new();
    let mut runners = Vec::new();
    for (i, db) in dbs.iter().enumerate() {
        let store = Arc::new(SqlEventStore::open(db.clone(), UpcasterRegistry::new()).await?);
        let mut ledger = Ledger::new("ledger", "ledger_rows");
        // Slow enough that batches overlap the takeover.
        ledger.apply_delay = Duration::from_millis(1);
        runners.push(
            ProjectionRunner::start(
                store.clone(),
                vec![Arc::new(ledger)],
                config(&format!("instance-{i}"), 10),
            )
            .await?,
        );
        stores.push(store);
    }
    let store_a = stores[0].clone();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stores = stores.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut appended = 0_u64;
            let mut i = 0_usize;
            while !stop.load(Ordering::Relaxed) {
                let store = &stores[i % stores.len()];
                let events = (0..3).map(|_| counted()).collect();
                store
                    .append(
                        &format!("s-{}", i % 7),
                        "test",
                        ExpectedVersion::Any,
                        events,
                    )
                    .await
                    .context("append under lease kills")?;
                appended += 3;
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            anyhow::Ok(appended)
        })
    };
    // Watches both runners the whole time: a fault at any moment fails the test.
    let watcher = {
        let runners = runners.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for runner in &runners {
                    let status = runner.status_of("ledger")?;
                    ensure!(
                        status.state != ProjectionState::Faulted,
                        "faulted under lease kills: {status:#?}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            anyhow::Ok(())
        })
    };

    let mut kills = 0;
    for _ in 0..16 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        kills += kill_lease_sessions(&db_a).await?;
    }
    stop.store(true, Ordering::Relaxed);
    let appended = writer.await??;
    watcher.await??;
    ensure!(kills >= 8, "only {kills} lease sessions were killed");

    let head = store_a.head_position().await?;
    ensure!(head as u64 == appended, "head {head}, appended {appended}");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (rows, _, _) = live_ledger(&db_a, "ledger", "ledger_rows").await?;
        if rows >= head {
            break;
        }
        for runner in &runners {
            let status = runner.status_of("ledger")?;
            ensure!(
                status.state != ProjectionState::Faulted,
                "faulted after the lease kills: {status:#?}"
            );
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "ledger at {rows} of {head}: {:#?}",
            runners
                .iter()
                .map(ProjectionRunner::status)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (rows, distinct, max) = live_ledger(&db_a, "ledger", "ledger_rows").await?;
    assert_eq!(
        (rows, distinct, max),
        (head, head, head),
        "every event applied once"
    );
    assert_eq!(dead_letters(&db_a, "ledger").await?, 0, "no dead letter");

    for runner in runners {
        runner.shutdown().await;
    }
    drop(store_a);
    for store in stores {
        store.shutdown().await;
    }
    for db in &dbs[1..] {
        db.close().await;
    }
    test_db.cleanup().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Item 5: an event the upcaster refuses is a dead letter, not a stop of the whole log.

/// `Refusable` v1 events whose data says `"bad": true` are refused by the upcaster.
fn refusing_upcasters() -> UpcasterRegistry {
    UpcasterRegistry::new().with("Refusable", 1, |data| {
        if data.get("bad").and_then(serde_json::Value::as_bool) == Some(true) {
            Err("the test upcaster refuses this event".to_owned())
        } else {
            Ok(data)
        }
    })
}

async fn unreadable_event_is_dead_lettered(backend: Backend) -> anyhow::Result<()> {
    let test_db = TestDb::new(backend).await?;
    let db = test_db.db().clone();
    let store = Arc::new(SqlEventStore::open(db.clone(), refusing_upcasters()).await?);
    let reader = Ledger::new("reader", "reader_rows");
    let bystander = Ledger::new("bystander", "bystander_rows").ignoring("refusable");
    reader.create_table(&db).await?;
    bystander.create_table(&db).await?;
    let runner = ProjectionRunner::start(
        store.clone(),
        vec![Arc::new(reader), Arc::new(bystander)],
        config("solo", 16),
    )
    .await?;

    for i in 0..5 {
        let events = (0..7).map(|_| counted()).collect();
        store
            .append(&format!("s-{i}"), "test", ExpectedVersion::Any, events)
            .await?;
    }
    let bad_id = Uuid::now_v7();
    let mut conn = db.pool().acquire().await?;
    let bad_at = raw_append(
        &mut conn,
        backend,
        "refusable-1",
        "refusable",
        bad_id,
        "Refusable",
        1,
        &serde_json::json!({ "bad": true }),
        &EventMetadata::default(),
    )
    .await?;
    drop(conn);
    // Commands on other streams keep working, and later events keep flowing.
    for i in 0..5 {
        let events = (0..7).map(|_| counted()).collect();
        store
            .append(&format!("s-{i}"), "test", ExpectedVersion::Any, events)
            .await?;
    }
    let head = store.head_position().await?;
    ensure!(head > bad_at);

    let faulted = wait_status(&runner, "reader", |s| s.state == ProjectionState::Faulted).await?;
    let fault = faulted
        .fault
        .context("a faulted projection shows its fault")?;
    assert_eq!(fault.position, bad_at);
    assert_eq!(fault.event_id, bad_id);
    assert_eq!(fault.event_type, "Refusable");
    assert!(
        fault.error.contains("refuses this event"),
        "the fault says why: {}",
        fault.error
    );
    assert_eq!(
        faulted.checkpoint,
        bad_at - 1,
        "everything before it applied"
    );
    assert_eq!(dead_letters(&db, "reader").await?, 1);
    // The projection that does not handle it passes it by.
    ensure!(
        runner
            .wait_for("bystander", head, PATIENCE)
            .await
            .is_ok_and(|reached| reached),
        "bystander stuck: {:#?}",
        runner.status()
    );
    assert_eq!(dead_letters(&db, "bystander").await?, 0);
    let (rows, _, _) = live_ledger(&db, "bystander", "bystander_rows").await?;
    assert_eq!(
        rows,
        head - 1,
        "every readable event applied, the refused one not"
    );

    // The operator skips it: the projection carries on to the head.
    runner
        .skip("reader", "test: refused by the upcaster", "tester")
        .await?;
    ensure!(
        runner.wait_for("reader", head, PATIENCE).await?,
        "reader stuck after the skip: {:#?}",
        runner.status()
    );
    let (rows, distinct, max) = live_ledger(&db, "reader", "reader_rows").await?;
    assert_eq!((rows, distinct, max), (head - 1, head - 1, head));
    assert_eq!(
        runner.status_of("reader")?.state,
        ProjectionState::Running,
        "running again after the skip"
    );

    runner.shutdown().await;
    drop(runner);
    store.shutdown().await;
    test_db.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_event_is_dead_lettered_sqlite() -> anyhow::Result<()> {
    unreadable_event_is_dead_lettered(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_event_is_dead_lettered_postgres() -> anyhow::Result<()> {
    unreadable_event_is_dead_lettered(Backend::Postgres).await
}

// ---------------------------------------------------------------------------------------------
// Item 6: a panic ends up Faulted and visible.

async fn panics_fault_the_projection(backend: Backend) -> anyhow::Result<()> {
    let test_db = TestDb::new(backend).await?;
    let db = test_db.db().clone();
    let store = Arc::new(SqlEventStore::open(db.clone(), UpcasterRegistry::new()).await?);
    let in_apply = Arc::new(Ledger::new("in_apply", "in_apply_rows"));
    let in_handles = Arc::new(Ledger::new("in_handles", "in_handles_rows"));
    let steady = Arc::new(Ledger::new("steady", "steady_rows"));
    for p in [&in_apply, &in_handles, &steady] {
        p.create_table(&db).await?;
    }
    let mut events: Vec<NewEvent> = (0..20).map(|_| counted()).collect();
    let bomb = Uuid::now_v7();
    events[9].event_id = bomb;
    *in_apply
        .panic_in_apply
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))? = Some(bomb);
    *in_handles
        .panic_in_handles
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))? = Some(bomb);
    let appended = store
        .append("s-1", "test", ExpectedVersion::Any, events)
        .await?;
    let bomb_at = appended.first_position + 9;
    let runner = ProjectionRunner::start(
        store.clone(),
        vec![in_apply.clone(), in_handles.clone(), steady.clone()],
        config("solo", 8),
    )
    .await?;

    // A panic in apply: the event is retried and dead-lettered like any failing event.
    let status = wait_status(&runner, "in_apply", |s| s.state == ProjectionState::Faulted).await?;
    let fault = status
        .fault
        .context("a faulted projection shows its fault")?;
    assert_eq!(fault.position, bomb_at);
    assert!(
        fault.error.contains("panicked") && fault.error.contains("apply exploded"),
        "the fault carries the panic message: {}",
        fault.error
    );
    assert_eq!(dead_letters(&db, "in_apply").await?, 1);

    // A panic elsewhere in the task: the task is gone, and says so.
    let status = wait_status(&runner, "in_handles", |s| {
        s.state == ProjectionState::Faulted
    })
    .await?;
    let error = status.last_error.unwrap_or_default();
    assert!(
        error.contains("panicked") && error.contains("handles exploded"),
        "the status carries the panic message: {error}"
    );

    // The others keep going.
    let more = store
        .append(
            "s-2",
            "test",
            ExpectedVersion::Any,
            vec![counted(), counted()],
        )
        .await?;
    ensure!(
        runner
            .wait_for("steady", more.last_position, PATIENCE)
            .await?,
        "steady stuck: {:#?}",
        runner.status()
    );

    // Disarmed and skipped, the apply-panicking projection catches up.
    *in_apply
        .panic_in_apply
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))? = None;
    runner.skip("in_apply", "test: panicked", "tester").await?;
    ensure!(
        runner
            .wait_for("in_apply", more.last_position, PATIENCE)
            .await?,
        "in_apply stuck after the skip: {:#?}",
        runner.status()
    );

    runner.shutdown().await;
    drop(runner);
    store.shutdown().await;
    test_db.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_fault_the_projection_sqlite() -> anyhow::Result<()> {
    panics_fault_the_projection(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_fault_the_projection_postgres() -> anyhow::Result<()> {
    panics_fault_the_projection(Backend::Postgres).await
}

// ---------------------------------------------------------------------------------------------
// Item 7: on SQLite a rebuild of a large log never makes an append fail.

/// ~20k events, a rebuild of two projections (so two swaps and two drops of ~20k rows) while
/// single appends run back to back and a reader counts the live generation: no append fails,
/// and the reader never sees fewer rows than before (never an old generation being dropped or
/// a new one half built).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_of_a_large_log_never_fails_an_append_sqlite() -> anyhow::Result<()> {
    let test_db = TestDb::sqlite().await?;
    let db = test_db.db().clone();
    let store = Arc::new(SqlEventStore::open(db.clone(), UpcasterRegistry::new()).await?);
    let first = Arc::new(Ledger::new("first", "first_rows"));
    let second = Arc::new(Ledger::new("second", "second_rows"));
    first.create_table(&db).await?;
    second.create_table(&db).await?;
    for i in 0..40 {
        let events = (0..500).map(|_| counted()).collect();
        store
            .append(&format!("s-{i}"), "test", ExpectedVersion::Any, events)
            .await?;
    }
    let runner = ProjectionRunner::start(
        store.clone(),
        vec![first.clone(), second.clone()],
        config("solo", 2000),
    )
    .await?;
    let head = store.head_position().await?;
    ensure!(
        runner.wait_for_all(head, PATIENCE).await,
        "initial catch-up"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let writer = {
        let store = store.clone();
        let stop = stop.clone();
        let appended = appended.clone();
        tokio::spawn(async move {
            let mut i = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                store
                    .append(
                        &format!("w-{}", i % 13),
                        "test",
                        ExpectedVersion::Any,
                        vec![counted()],
                    )
                    .await
                    .with_context(|| format!("append {i} during the rebuild"))?;
                appended.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            anyhow::Ok(())
        })
    };
    let reader = {
        let db = db.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut reads = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                for (name, table) in [("first", "first_rows"), ("second", "second_rows")] {
                    let (rows, _, _) = live_ledger(&db, name, table).await?;
                    ensure!(rows >= head, "{name} live generation read with {rows} rows");
                    reads += 1;
                }
            }
            anyhow::Ok(reads)
        })
    };

    let generations = [
        runner.rebuild("first").await?,
        runner.rebuild("second").await?,
    ];
    for (name, generation) in ["first", "second"].into_iter().zip(generations) {
        wait_status(&runner, name, |s| {
            s.generation == generation && s.rebuild.is_none()
        })
        .await?;
    }
    // Some more appends after the drops, then stop.
    let seen = appended.load(Ordering::Relaxed);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while appended.load(Ordering::Relaxed) < seen + 20 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await??;
    let reads = reader.await??;
    ensure!(reads > 0);
    ensure!(
        appended.load(Ordering::Relaxed) > 0,
        "appends ran during the rebuild"
    );

    let head = store.head_position().await?;
    ensure!(runner.wait_for_all(head, PATIENCE).await, "final catch-up");
    for (name, table, generation) in [
        ("first", "first_rows", generations[0]),
        ("second", "second_rows", generations[1]),
    ] {
        let (rows, distinct, max) = live_ledger(&db, name, table).await?;
        assert_eq!((rows, distinct, max), (head, head, head), "{name} rebuilt");
        let old: i64 = sqlx::query_scalar(&format!(
            "select count(*) from {table} where generation <> $1"
        ))
        .bind(generation)
        .fetch_one(db.pool())
        .await?;
        assert_eq!(old, 0, "{name}'s old generation dropped");
    }

    runner.shutdown().await;
    drop(runner);
    store.shutdown().await;
    test_db.cleanup().await;
    Ok(())
}
