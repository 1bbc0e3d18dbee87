//! Database faults an append must survive or answer with a typed error (PostgreSQL): the
//! writer's connection terminated between appends, the connection killed after the commit was
//! sent, a caller that gives up while its append waits for the log head lock, and a session that
//! holds the log head lock. Each test makes its own database and never restarts the server.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use eventstore::testing::TestDb;
use eventstore::{
    AppendCondition, Db, EventMetadata, EventQuery, EventStore, ExpectedVersion, NewEvent,
    QueryItem, SqlEventStore, StoreError, StreamAppend, UpcasterRegistry,
};
use futures::FutureExt as _;
use serde_json::json;
use sqlx::{Connection as _, Executor as _, PgConnection};

/// Guards against a hang (a test failing by never finishing); not a timing threshold.
const HANG: Duration = Duration::from_secs(60);

async fn run<F, Fut>(case: F)
where
    F: FnOnce(SqlEventStore, Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let test_db = TestDb::postgres().await.expect("fresh database");
    let store = SqlEventStore::open(test_db.db().clone(), UpcasterRegistry::new())
        .await
        .expect("open store");
    let outcome = AssertUnwindSafe(tokio::time::timeout(
        HANG,
        case(store.clone(), test_db.db().clone()),
    ))
    .catch_unwind()
    .await;
    store.shutdown().await;
    test_db.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("the test hung for {HANG:?}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn event(n: u32) -> NewEvent {
    NewEvent::new("Noted", 1, json!({ "n": n }), EventMetadata::default())
}

/// A second session on the store's database, outside its pool.
async fn second_session(db: &Db) -> PgConnection {
    PgConnection::connect(db.url())
        .await
        .expect("second session")
}

/// Terminates every other session on the database (the store's pool, writer, LISTEN).
async fn terminate_store_backends(admin: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity \
         where datname = current_database() and pid <> pg_backend_pid()) t",
    )
    .fetch_one(&mut *admin)
    .await
    .expect("terminate backends")
}

async fn stored_events(db: &Db, stream: &str) -> i64 {
    let mut conn = second_session(db).await;
    sqlx::query_scalar("select count(*) from events where stream_id = $1")
        .bind(stream)
        .fetch_one(&mut conn)
        .await
        .expect("count events")
}

/// Item 1: the writer's kept connection is terminated between two appends; the second append
/// runs on a fresh connection without the caller noticing.
#[tokio::test]
async fn append_survives_terminated_writer_connection() {
    run(|store, db| async move {
        let first = store
            .append("note-1", "note", ExpectedVersion::NoStream, vec![event(1)])
            .await
            .expect("first append");
        let mut admin = second_session(&db).await;
        let killed = terminate_store_backends(&mut admin).await;
        assert!(killed >= 1, "the writer's connection was terminated");
        let second = store
            .append(
                "note-1",
                "note",
                ExpectedVersion::Exact(first.last_version),
                vec![event(2)],
            )
            .await
            .expect("second append after pg_terminate_backend");
        assert_eq!(second.first_version, 2);
        assert_eq!(second.first_position, first.last_position + 1);
        assert_eq!(stored_events(&db, "note-1").await, 2);
    })
    .await;
}

/// Item 2 (sent, then killed): a deferred trigger makes the commit wait; the writer's session is
/// terminated while it runs its COMMIT. The store must find out what happened (here: not
/// committed) and answer the caller with the truth: the append is written exactly once.
#[tokio::test]
async fn connection_killed_during_commit_is_resolved() {
    run(|store, db| async move {
        let mut admin = second_session(&db).await;
        admin
            .execute(
                "create function eventide_slow_commit() returns trigger language plpgsql as \
                 $$ begin perform pg_sleep(0.5); return null; end $$; \
                 create constraint trigger eventide_slow_commit after insert on events \
                 deferrable initially deferred for each row execute function eventide_slow_commit()",
            )
            .await
            .expect("slow commit trigger");
        let append = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .append("note-2", "note", ExpectedVersion::NoStream, vec![event(1)])
                    .await
            }
        });
        // Wait until the writer is inside its COMMIT (running the deferred trigger), kill it.
        let killed = loop {
            let pids: Vec<i32> = sqlx::query_scalar(
                "select pid from pg_stat_activity where datname = current_database() \
                 and wait_event = 'PgSleep' and pid <> pg_backend_pid()",
            )
            .fetch_all(&mut admin)
            .await
            .expect("find the committing session");
            if let Some(pid) = pids.first() {
                let _: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
                    .bind(pid)
                    .fetch_one(&mut admin)
                    .await
                    .expect("terminate the committing session");
                break *pid;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let result = append.await.expect("append task");
        let result = result.unwrap_or_else(|e| {
            panic!("append killed during commit (backend {killed}) answered an error: {e}")
        });
        assert_eq!(result.first_version, 1);
        assert_eq!(stored_events(&db, "note-2").await, 1, "written exactly once");
    })
    .await;
}

/// Item 2 for a conditional multi-stream append: killed during its commit, it is run again on a
/// fresh connection and written exactly once, on both streams (its condition checked again
/// under the log head lock).
#[tokio::test]
async fn conditional_multi_stream_append_killed_during_commit_is_resolved() {
    run(|store, db| async move {
        let mut admin = second_session(&db).await;
        admin
            .execute(
                "create function eventide_slow_commit() returns trigger language plpgsql as \
                 $$ begin perform pg_sleep(0.5); return null; end $$; \
                 create constraint trigger eventide_slow_commit after insert on events \
                 deferrable initially deferred for each row execute function eventide_slow_commit()",
            )
            .await
            .expect("slow commit trigger");
        let condition = AppendCondition::new(EventQuery::item(QueryItem::tags(["seat:1"])), 0);
        let append = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .append_multi(
                        vec![
                            StreamAppend::new(
                                "booking-1",
                                "booking",
                                ExpectedVersion::NoStream,
                                vec![event(1).with_tags(["seat:1"])],
                            ),
                            StreamAppend::new(
                                "show-1",
                                "show",
                                ExpectedVersion::NoStream,
                                vec![event(2)],
                            ),
                        ],
                        Some(condition),
                    )
                    .await
            }
        });
        loop {
            let pids: Vec<i32> = sqlx::query_scalar(
                "select pid from pg_stat_activity where datname = current_database() \
                 and wait_event = 'PgSleep' and pid <> pg_backend_pid()",
            )
            .fetch_all(&mut admin)
            .await
            .expect("find the committing session");
            if let Some(pid) = pids.first() {
                let _: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
                    .bind(pid)
                    .fetch_one(&mut admin)
                    .await
                    .expect("terminate the committing session");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let results = append
            .await
            .expect("append task")
            .unwrap_or_else(|e| panic!("append killed during commit answered an error: {e}"));
        assert_eq!(results.len(), 2);
        assert_eq!(results[1].first_position, results[0].last_position + 1);
        assert_eq!(stored_events(&db, "booking-1").await, 1, "written exactly once");
        assert_eq!(stored_events(&db, "show-1").await, 1, "written exactly once");
    })
    .await;
}

/// Item 2 (withdrawn): the caller gives up (drops the append future) while its append waits for
/// the log head lock held by another session; once the lock goes, the append is not written.
#[tokio::test]
async fn append_dropped_while_waiting_is_not_written() {
    run(|store, db| async move {
        let mut locker = second_session(&db).await;
        locker.execute("begin").await.expect("begin");
        locker
            .execute("select position from log_head where id = 1 for update")
            .await
            .expect("lock the log head");
        {
            let append = store.append("note-3", "note", ExpectedVersion::NoStream, vec![event(1)]);
            // The caller's own deadline (an HTTP request timeout) fires first.
            let gave_up = tokio::time::timeout(Duration::from_millis(300), append).await;
            assert!(
                gave_up.is_err(),
                "the append cannot finish while the head is locked"
            );
        }
        locker.execute("rollback").await.expect("release the lock");
        // An append after it goes through the same writer: once it is answered, the dropped
        // one has been written or withdrawn.
        store
            .append("note-4", "note", ExpectedVersion::NoStream, vec![event(2)])
            .await
            .expect("append after the lock is released");
        assert_eq!(
            stored_events(&db, "note-3").await,
            0,
            "an append whose caller gave up before it was written must not be written"
        );
    })
    .await;
}

/// Item 3: a session holds the log head lock (an operator's open transaction). An append answers
/// the typed `Unavailable` error within about `lock_timeout`, the store reports that writes
/// cannot commit, and both recover by themselves once the lock is released.
#[tokio::test]
async fn held_head_lock_answers_unavailable_then_recovers() {
    run(|store, db| async move {
        let lock_timeout = db.session_limits().lock_timeout;
        let mut locker = second_session(&db).await;
        locker.execute("begin").await.expect("begin");
        locker
            .execute("select position from log_head where id = 1 for update")
            .await
            .expect("lock the log head");
        let started = Instant::now();
        let result = store
            .append("note-5", "note", ExpectedVersion::NoStream, vec![event(1)])
            .await;
        let waited = started.elapsed();
        println!("append answered after {waited:?} (lock_timeout {lock_timeout:?}): {result:?}");
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "expected Unavailable, got {result:?}"
        );
        assert!(
            matches!(store.check_writes().await, Err(StoreError::Unavailable(_))),
            "writes reported as not committable while the lock is held"
        );
        locker.execute("rollback").await.expect("release the lock");
        store
            .check_writes()
            .await
            .expect("writes committable again once the lock is gone");
        store
            .append("note-5", "note", ExpectedVersion::NoStream, vec![event(2)])
            .await
            .expect("append after the lock is released");
        assert_eq!(stored_events(&db, "note-5").await, 1);
    })
    .await;
}

/// The session limits reach every PostgreSQL session the store opens, and transactions run
/// read committed.
#[tokio::test]
async fn sessions_carry_the_limits() {
    run(|_store, db| async move {
        let mut conn = db.pool().acquire().await.expect("pooled connection");
        let mut settings = Vec::new();
        for name in [
            "lock_timeout",
            "statement_timeout",
            "idle_in_transaction_session_timeout",
            "default_transaction_isolation",
            "tcp_keepalives_idle",
        ] {
            let value: String = sqlx::query_scalar(&format!("select current_setting('{name}')"))
                .fetch_one(&mut *conn)
                .await
                .expect("setting");
            settings.push(value);
        }
        assert_eq!(
            settings,
            ["2s", "10s", "30s", "read committed", "30"].map(String::from)
        );
    })
    .await;
}
