//! Issue 16 item 6 (writer part): the group-commit writer task panics (a real panic, injected
//! through the `testing` feature's hook, not a mock of the store). The append of the batch that
//! panicked answers a typed error at once (never a hang, never "shut down" for a store that is
//! open); readiness (`check_writes`, behind `/ready`) says the writer died until it is running
//! again; the writer is restarted and later appends commit. On both backends.

use std::time::{Duration, Instant};

use eventstore::testing::TestDb;
use eventstore::{
    Backend, EventMetadata, EventStore, ExpectedVersion, NewEvent, SqlEventStore, StoreError,
    UpcasterRegistry,
};
use serde_json::json;

/// Guards against a hang (a test failing by never finishing); not a timing threshold.
const HANG: Duration = Duration::from_secs(30);

fn event(n: u32) -> NewEvent {
    NewEvent::new("Noted", 1, json!({ "n": n }), EventMetadata::default())
}

async fn stored_events(store: &SqlEventStore, stream: &str) -> i64 {
    sqlx::query_scalar("select count(*) from events where stream_id = $1")
        .bind(stream)
        .fetch_one(store.db().pool())
        .await
        .expect("count events")
}

async fn writer_panics_and_is_restarted(backend: Backend) {
    let test_db = TestDb::new(backend).await.expect("fresh database");
    let store = SqlEventStore::open(test_db.db().clone(), UpcasterRegistry::new())
        .await
        .expect("open store");
    let outcome = tokio::time::timeout(HANG, async {
        let first = store
            .append("note-1", "note", ExpectedVersion::NoStream, vec![event(1)])
            .await
            .expect("first append");

        // Two panics in a row: the restarted writer panics again on its first batch.
        // Restarts after a second each: long enough to look at the store while it is down.
        store.set_writer_restart_pause(Duration::from_secs(1));
        store.inject_writer_panics(2);
        let lost = store
            .append(
                "note-1",
                "note",
                ExpectedVersion::Exact(first.last_version),
                vec![event(2)],
            )
            .await;
        assert!(
            matches!(lost, Err(StoreError::OutcomeUnknown)),
            "the append of the batch that panicked: {lost:?}"
        );
        // Readiness says so as soon as the caller heard of it.
        assert!(!store.writer_status().running);
        let ready = store.check_writes().await;
        assert!(
            matches!(&ready, Err(StoreError::Unavailable(m)) if m.contains("writer")),
            "check_writes while the writer is down: {ready:?}"
        );

        // The writer comes back by itself; an append while it is down answers 503-class
        // Unavailable at once or commits once it is back, never "shut down".
        let started = Instant::now();
        let mut answers = Vec::new();
        let second = loop {
            let attempt = store
                .append(
                    "note-1",
                    "note",
                    ExpectedVersion::Exact(first.last_version),
                    vec![event(2)],
                )
                .await;
            match attempt {
                Ok(result) => break result,
                Err(e @ (StoreError::Unavailable(_) | StoreError::OutcomeUnknown)) => {
                    answers.push(e.to_string());
                }
                Err(other) => panic!("append while the writer restarts: {other:?}"),
            }
            assert!(
                started.elapsed() < HANG / 2,
                "the writer was not restarted; answers: {answers:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(second.first_version, 2);
        store.check_writes().await.expect("ready again");
        let status = store.writer_status();
        assert!(status.running, "{status:?}");
        assert_eq!(status.restarts, 2, "{status:?}");
        assert!(
            status
                .last_panic
                .as_deref()
                .is_some_and(|p| p.contains("injected writer panic")),
            "{status:?}"
        );
        assert!(
            answers.iter().any(|a| a.contains("writer")),
            "an append while the writer was down answered that: {answers:?}"
        );
        // Neither panicked batch wrote anything; the retry wrote its event once.
        assert_eq!(stored_events(&store, "note-1").await, 2);
        let third = store
            .append("note-1", "note", ExpectedVersion::Exact(2), vec![event(3)])
            .await
            .expect("append after the restart");
        assert_eq!(third.first_version, 3);
    })
    .await;
    store.shutdown().await;
    test_db.cleanup().await;
    outcome.expect("the test hung");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_panic_is_visible_and_restarted_sqlite() {
    writer_panics_and_is_restarted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_panic_is_visible_and_restarted_postgres() {
    writer_panics_and_is_restarted(Backend::Postgres).await;
}
