//! One conformance suite for every backend: each case is written once as
//! `async fn case(ctx: Ctx)` and instantiated for SQLite (a temp file per test) and PostgreSQL
//! (a fresh database per test) by the `conformance!` macro at the bottom.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use eventstore::testing::{TestDb, raw_append};
use eventstore::{
    Backend, Db, EventMetadata, EventStore, ExpectedVersion, NewEvent, RecordedEvent,
    SqlEventStore, StoreError, StreamFilter, UpcasterRegistry, load_checkpoint, save_checkpoint,
};
use futures::{FutureExt as _, StreamExt as _};
use serde_json::json;
use tokio::sync::Barrier;
use uuid::Uuid;

struct Ctx {
    store: SqlEventStore,
    db: Db,
}

async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let test_db = TestDb::new(backend).await.expect("fresh database");
    let store = SqlEventStore::open(test_db.db().clone(), UpcasterRegistry::new())
        .await
        .expect("open store");
    let ctx = Ctx {
        store: store.clone(),
        db: test_db.db().clone(),
    };
    let outcome = AssertUnwindSafe(case(ctx)).catch_unwind().await;
    store.shutdown().await;
    test_db.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn event(event_type: &str, data: serde_json::Value) -> NewEvent {
    NewEvent::new(event_type, 1, data, EventMetadata::default())
}

fn correlated(event_type: &str, data: serde_json::Value, correlation: Uuid) -> NewEvent {
    NewEvent::new(
        event_type,
        1,
        data,
        EventMetadata {
            correlation_id: Some(correlation),
            causation_id: Some(Uuid::now_v7()),
            user_id: Some("alice".into()),
            extra: serde_json::Map::new(),
        },
    )
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Opens a write transaction that holds the log (as an append in another process would) and
/// takes position `head + 1` with a raw append.
async fn hold_log(db: &Db, stream: &str) -> sqlx::Transaction<'static, sqlx::Any> {
    let begin = match db.backend() {
        Backend::Sqlite => "begin immediate",
        Backend::Postgres => "begin",
    };
    let mut tx = db.pool().begin_with(begin).await.expect("begin");
    raw_append(
        &mut tx,
        db.backend(),
        stream,
        "held",
        Uuid::now_v7(),
        "Held",
        1,
        &json!({"held": true}),
        &EventMetadata::default(),
    )
    .await
    .expect("raw append");
    tx
}

fn assert_contiguous(events: &[RecordedEvent], from: i64, to: i64) {
    let positions: Vec<i64> = events.iter().map(|e| e.position).collect();
    let expected: Vec<i64> = (from..=to).collect();
    assert_eq!(
        positions, expected,
        "positions must be contiguous and in order"
    );
}

fn wrong_version(err: StoreError) -> i64 {
    match err {
        StoreError::WrongExpectedVersion { actual, .. } => actual,
        other => panic!("expected WrongExpectedVersion, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

/// 32 tasks x 200 rounds on one stream with Exact versions: one winner per round.
async fn racing_writers_one_winner_per_round(ctx: Ctx) {
    const TASKS: usize = 32;
    const ROUNDS: i64 = 200;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = ctx.store.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let mut wins = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                let e = event("Raced", json!({"task": task, "round": round}));
                let id = e.event_id;
                match store
                    .append("race-1", "race", ExpectedVersion::Exact(round), vec![e])
                    .await
                {
                    Ok(result) => {
                        assert_eq!(result.first_version, round + 1);
                        wins.push((round, id));
                    }
                    Err(err) => assert_eq!(wrong_version(err), round + 1),
                }
            }
            wins
        }));
    }
    let mut winners: BTreeMap<i64, Vec<Uuid>> = BTreeMap::new();
    for handle in handles {
        for (round, id) in within("racers", handle).await.expect("task") {
            winners.entry(round).or_default().push(id);
        }
    }
    assert_eq!(winners.len(), ROUNDS as usize);
    assert!(
        winners.values().all(|w| w.len() == 1),
        "one winner per round"
    );
    let stored = ctx.store.read_stream("race-1", 1, 1000).await.unwrap();
    assert_eq!(stored.len(), ROUNDS as usize);
    for (i, e) in stored.iter().enumerate() {
        let round = i as i64;
        assert_eq!(e.version, round + 1);
        assert_eq!(e.event_id, winners[&round][0]);
    }
    assert_contiguous(&ctx.store.read_all(0, 1000).await.unwrap(), 1, ROUNDS);
    assert_eq!(ctx.store.stream_version("race-1").await.unwrap(), ROUNDS);
}

async fn expected_version_variants(ctx: Ctx) {
    use ExpectedVersion::*;
    let s = &ctx.store;
    let e = || vec![event("E", json!({}))];
    // NoStream
    let r = s.append("a", "t", NoStream, e()).await.unwrap();
    assert_eq!((r.first_version, r.last_version), (1, 1));
    assert_eq!((r.first_position, r.last_position), (1, 1));
    assert_eq!(
        wrong_version(s.append("a", "t", NoStream, e()).await.unwrap_err()),
        1
    );
    // StreamExists
    assert_eq!(
        wrong_version(s.append("b", "t", StreamExists, e()).await.unwrap_err()),
        0
    );
    let r = s.append("a", "t", StreamExists, e()).await.unwrap();
    assert_eq!((r.first_version, r.last_position), (2, 2));
    // Exact
    let r = s
        .append(
            "a",
            "t",
            Exact(2),
            vec![event("E", json!(1)), event("E", json!(2))],
        )
        .await
        .unwrap();
    assert_eq!((r.first_version, r.last_version), (3, 4));
    assert_eq!((r.first_position, r.last_position), (3, 4));
    match s.append("a", "t", Exact(2), e()).await.unwrap_err() {
        StoreError::WrongExpectedVersion {
            stream,
            expected,
            actual,
        } => {
            assert_eq!((stream.as_str(), expected, actual), ("a", Exact(2), 4));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        wrong_version(s.append("a", "t", Exact(9), e()).await.unwrap_err()),
        4
    );
    // Exact(0) == NoStream
    assert_eq!(
        wrong_version(s.append("a", "t", Exact(0), e()).await.unwrap_err()),
        4
    );
    let r = s.append("c", "t", Exact(0), e()).await.unwrap();
    assert_eq!(r.first_version, 1);
    assert_eq!(
        wrong_version(s.append("d", "t", Exact(1), e()).await.unwrap_err()),
        0
    );
    // Any
    assert_eq!(s.append("d", "t", Any, e()).await.unwrap().first_version, 1);
    assert_eq!(s.append("d", "t", Any, e()).await.unwrap().first_version, 2);
    // Empty
    assert!(matches!(
        s.append("a", "t", Any, vec![]).await,
        Err(StoreError::EmptyAppend)
    ));
    // Failures wrote nothing: positions are contiguous.
    assert_eq!(s.head_position().await.unwrap(), 7);
    assert_contiguous(&s.read_all(0, 100).await.unwrap(), 1, 7);
    assert_eq!(s.stream_version("a").await.unwrap(), 4);
    assert_eq!(s.stream_version("b").await.unwrap(), 0);
}

async fn idempotent_retry(ctx: Ctx) {
    let s = &ctx.store;
    let events = vec![
        event("E", json!({"b": 1, "a": [1.5, "x", {"z": null, "y": 2}]})),
        correlated("E", json!({"n": 2}), Uuid::now_v7()),
        event("E", json!("three")),
    ];
    s.append(
        "other",
        "t",
        ExpectedVersion::Any,
        vec![event("E", json!(0))],
    )
    .await
    .unwrap();
    let first = s
        .append("s", "t", ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    // Retry, even with a now-stale expected version: same result, nothing written.
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(0),
    ] {
        let again = s.append("s", "t", expected, events.clone()).await.unwrap();
        assert_eq!(again, first);
    }
    assert_eq!(s.head_position().await.unwrap(), 4);
    assert_eq!(s.stream_version("s").await.unwrap(), 3);
    // Same id, different content.
    let mut changed = events.clone();
    changed[1].data = json!({"n": 3});
    match s.append("s", "t", ExpectedVersion::Any, changed).await {
        Err(StoreError::IdempotencyConflict { event_id }) => {
            assert_eq!(event_id, events[1].event_id)
        }
        other => panic!("expected IdempotencyConflict, got {other:?}"),
    }
    let mut changed = events.clone();
    changed[0].metadata.user_id = Some("mallory".into());
    assert!(matches!(
        s.append("s", "t", ExpectedVersion::Any, changed).await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // Same ids in another stream.
    assert!(matches!(
        s.append("s2", "t", ExpectedVersion::Any, events.clone())
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // A new first id but a later id already stored.
    let mixed = vec![event("E", json!(9)), events[2].clone()];
    match s.append("s", "t", ExpectedVersion::Any, mixed).await {
        Err(StoreError::IdempotencyConflict { event_id }) => {
            assert_eq!(event_id, events[2].event_id)
        }
        other => panic!("expected IdempotencyConflict, got {other:?}"),
    }
    // The same id twice in one append.
    let dup = event("E", json!(1));
    assert!(matches!(
        s.append("s", "t", ExpectedVersion::Any, vec![dup.clone(), dup])
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(s.head_position().await.unwrap(), 4);
    assert_contiguous(&s.read_all(0, 100).await.unwrap(), 1, 4);
    assert_eq!(s.stream_version("s2").await.unwrap(), 0);
}

/// Appends queued behind a held log all land in the next batches; only the conflicting ones
/// fail.
async fn group_commit_isolates_failures(ctx: Ctx) {
    let s = &ctx.store;
    let stored = event("E", json!("stored"));
    s.append(
        "stored",
        "t",
        ExpectedVersion::NoStream,
        vec![stored.clone()],
    )
    .await
    .unwrap();
    let held = hold_log(&ctx.db, "held-1").await;
    // Queued with the others: its second event id is already stored (the unique index fires
    // inside the batch, the savepoint rollback isolates it).
    let store = s.clone();
    let reused = tokio::spawn(async move {
        let events = vec![event("E", json!("new")), stored];
        store
            .append("reuse", "t", ExpectedVersion::Any, events)
            .await
    });
    let mut tasks = Vec::new();
    for i in 0..20 {
        for attempt in 0..2 {
            let store = s.clone();
            tasks.push(tokio::spawn(async move {
                let stream = format!("pair-{i}");
                let e = event("E", json!({"i": i, "attempt": attempt}));
                (
                    true,
                    store
                        .append(&stream, "pair", ExpectedVersion::NoStream, vec![e])
                        .await,
                )
            }));
        }
        let store = s.clone();
        tasks.push(tokio::spawn(async move {
            let stream = format!("solo-{i}");
            let e = vec![event("E", json!(i)), event("E", json!(i))];
            (
                false,
                store.append(&stream, "solo", ExpectedVersion::Any, e).await,
            )
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.commit().await.unwrap();
    let (mut pair_ok, mut pair_conflict, mut solo_ok) = (0, 0, 0);
    for task in tasks {
        match within("append", task).await.unwrap() {
            (true, Ok(_)) => pair_ok += 1,
            (true, Err(e)) => {
                assert_eq!(wrong_version(e), 1);
                pair_conflict += 1;
            }
            (false, Ok(r)) => {
                assert_eq!((r.first_version, r.last_version), (1, 2));
                solo_ok += 1;
            }
            (false, Err(e)) => panic!("independent append failed: {e:?}"),
        }
    }
    assert_eq!((pair_ok, pair_conflict, solo_ok), (20, 20, 20));
    assert!(matches!(
        within("reused", reused).await.unwrap(),
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(s.stream_version("reuse").await.unwrap(), 0);
    let all = s.read_all(0, 1000).await.unwrap();
    assert_contiguous(&all, 1, 2 + 20 + 40);
    for i in 0..20 {
        assert_eq!(s.stream_version(&format!("pair-{i}")).await.unwrap(), 1);
        assert_eq!(s.stream_version(&format!("solo-{i}")).await.unwrap(), 2);
    }
}

/// One batch (queued behind a held log) that the bulk path writes whole: appends in order to the
/// same stream see each other's versions, a retry of a stored append gets its original result, a
/// stale expected version fails alone, and the log stays contiguous.
async fn bulk_batch_mixed_outcomes(ctx: Ctx) {
    let s = &ctx.store;
    let stored = vec![event("E", json!("a")), event("E", json!("b"))];
    let original = s
        .append("kept", "t", ExpectedVersion::NoStream, stored.clone())
        .await
        .unwrap();
    let held = hold_log(&ctx.db, "held-1").await;
    // Sent one after the other so they queue in this order behind the held log.
    let mut tasks = Vec::new();
    let mut send = |stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>| {
        let store = s.clone();
        let stream = stream.to_owned();
        tasks.push(tokio::spawn(async move {
            store.append(&stream, "t", expected, events).await
        }));
    };
    send("first", ExpectedVersion::Any, vec![event("E", json!(0))]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    send("seq", ExpectedVersion::NoStream, vec![event("E", json!(1))]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    send(
        "seq",
        ExpectedVersion::Exact(1),
        vec![event("E", json!(2)), event("E", json!(3))],
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    send(
        "seq",
        ExpectedVersion::Exact(1),
        vec![event("E", json!("stale"))],
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    send("kept", ExpectedVersion::NoStream, stored.clone());
    tokio::time::sleep(Duration::from_millis(20)).await;
    send(
        "kept",
        ExpectedVersion::Exact(2),
        vec![event("E", json!("c"))],
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    held.commit().await.unwrap();
    let mut results = Vec::new();
    for task in tasks {
        results.push(within("append", task).await.unwrap());
    }
    let mut results = results.into_iter();
    let first = results.next().unwrap().unwrap();
    assert_eq!(first.first_position, 4, "after the held raw append at 3");
    let seq1 = results.next().unwrap().unwrap();
    assert_eq!((seq1.first_version, seq1.last_version), (1, 1));
    let seq2 = results.next().unwrap().unwrap();
    assert_eq!((seq2.first_version, seq2.last_version), (2, 3));
    assert_eq!(seq2.first_position, seq1.last_position + 1);
    assert_eq!(wrong_version(results.next().unwrap().unwrap_err()), 3);
    assert_eq!(
        results.next().unwrap().unwrap(),
        original,
        "retry answers the original"
    );
    let kept3 = results.next().unwrap().unwrap();
    assert_eq!((kept3.first_version, kept3.last_version), (3, 3));
    assert_eq!(kept3.first_position, seq2.last_position + 1);
    let all = s.read_all(0, 100).await.unwrap();
    assert_contiguous(&all, 1, kept3.last_position);
    assert_eq!(s.head_position().await.unwrap(), kept3.last_position);
    assert_eq!(s.stream_version("seq").await.unwrap(), 3);
    assert_eq!(s.stream_version("kept").await.unwrap(), 3);
    let seq: Vec<serde_json::Value> = s
        .read_stream("seq", 1, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert_eq!(seq, vec![json!(1), json!(2), json!(3)]);
}

/// A transaction holds position 1 open while other appends are issued; a catch-up reader and a
/// live subscriber started before it see every event exactly once, in order.
async fn late_commit_is_never_skipped(ctx: Ctx) {
    const APPENDS: i64 = 50;
    let s = &ctx.store;
    let mut subscription = s.subscribe(0);
    let reader_store = s.clone();
    let reader = tokio::spawn(async move {
        let (mut seen, mut after) = (Vec::new(), 0);
        while after < APPENDS + 1 {
            let batch = reader_store.read_all(after, 7).await.unwrap();
            if let Some(last) = batch.last() {
                after = last.position;
            } else {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen.extend(batch);
        }
        seen
    });
    let held = hold_log(&ctx.db, "held-1").await;
    let mut tasks = Vec::new();
    for i in 0..APPENDS {
        let store = s.clone();
        tasks.push(tokio::spawn(async move {
            let e = vec![event("E", json!(i))];
            store
                .append(&format!("late-{i}"), "late", ExpectedVersion::NoStream, e)
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        s.read_all(0, 10).await.unwrap().is_empty(),
        "nothing visible yet"
    );
    held.commit().await.unwrap();
    for task in tasks {
        within("append", task).await.unwrap().unwrap();
    }
    let caught_up = within("reader", reader).await.unwrap();
    assert_contiguous(&caught_up, 1, APPENDS + 1);
    let mut live = Vec::new();
    while live.len() < (APPENDS + 1) as usize {
        live.push(
            within("subscriber", subscription.next())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_contiguous(&live, 1, APPENDS + 1);
    assert_eq!(live[0].event_type, "Held");
    let ids: HashSet<Uuid> = live.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), live.len());
}

async fn ten_thousand_events_in_one_append(ctx: Ctx) {
    let s = &ctx.store;
    let correlation = Uuid::now_v7();
    let events: Vec<NewEvent> = (0..10_000)
        .map(|i| {
            let mut e = correlated(
                "Bulk",
                json!({"i": i, "name": format!("item {i}"), "tags": ["a", i % 7]}),
                correlation,
            );
            e.schema_version = 1 + (i % 3);
            e.metadata.extra.insert("n".into(), json!(i));
            e
        })
        .collect();
    let r = s
        .append("bulk", "bulk", ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    assert_eq!((r.first_version, r.last_version), (1, 10_000));
    assert_eq!((r.first_position, r.last_position), (1, 10_000));
    let stored = s.read_stream("bulk", 1, 20_000).await.unwrap();
    assert_eq!(stored.len(), 10_000);
    for (i, (e, w)) in stored.iter().zip(&events).enumerate() {
        assert_eq!(e.event_id, w.event_id);
        assert_eq!(e.event_type, w.event_type);
        assert_eq!(e.schema_version, w.schema_version);
        assert_eq!(e.data, w.data);
        assert_eq!(e.metadata, w.metadata);
        assert_eq!(e.version, i as i64 + 1);
        assert_eq!(e.position, i as i64 + 1);
        assert_eq!(e.stream_id, "bulk");
    }
    // An idempotent retry of the whole append.
    let again = s
        .append("bulk", "bulk", ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    assert_eq!(again, r);
    assert_eq!(s.head_position().await.unwrap(), 10_000);
}

async fn read_paths(ctx: Ctx) {
    let s = &ctx.store;
    assert_eq!(s.head_position().await.unwrap(), 0);
    assert!(s.read_all(0, 10).await.unwrap().is_empty());
    let c1 = Uuid::now_v7();
    let c2 = Uuid::now_v7();
    for i in 0..10 {
        let stream = if i % 2 == 0 { "even" } else { "odd" };
        let corr = if i % 3 == 0 { c1 } else { c2 };
        s.append(
            stream,
            "num",
            ExpectedVersion::Any,
            vec![correlated("N", json!(i), corr)],
        )
        .await
        .unwrap();
    }
    assert_eq!(s.head_position().await.unwrap(), 10);
    assert_eq!(s.stream_version("even").await.unwrap(), 5);
    assert_eq!(s.stream_version("missing").await.unwrap(), 0);
    // read_stream from a version, with a limit.
    let part = s.read_stream("even", 2, 2).await.unwrap();
    assert_eq!(
        part.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(
        part.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        vec![json!(2), json!(4)]
    );
    assert_eq!(s.read_stream("even", 5, 100).await.unwrap().len(), 1);
    assert!(s.read_stream("even", 6, 100).await.unwrap().is_empty());
    assert!(s.read_stream("missing", 1, 100).await.unwrap().is_empty());
    // read_all paging.
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = s.read_all(after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        after = page.last().unwrap().position;
        all.extend(page);
    }
    assert_contiguous(&all, 1, 10);
    assert_eq!(all[3].stream_id, "odd");
    assert_eq!(all[3].stream_type, "num");
    assert_eq!(all[3].version, 2);
    assert!(all.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
    // read_correlated
    let corr = s.read_correlated(c1, 100).await.unwrap();
    assert_eq!(
        corr.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![1, 4, 7, 10]
    );
    assert_eq!(s.read_correlated(c2, 2).await.unwrap().len(), 2);
    assert!(
        s.read_correlated(Uuid::now_v7(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn list_streams_filters_and_pages(ctx: Ctx) {
    let s = &ctx.store;
    let start = chrono::Utc::now() - chrono::Duration::seconds(5);
    for (id, ty, n) in [
        ("order-1", "order", 3),
        ("order-2", "order", 1),
        ("order-10", "order", 2),
        ("cust-1", "customer", 1),
        ("cust-2", "customer", 4),
        ("orderx_1", "order", 1),
    ] {
        for _ in 0..n {
            s.append(id, ty, ExpectedVersion::Any, vec![event("E", json!(id))])
                .await
                .unwrap();
        }
    }
    let ids =
        |v: &[eventstore::StreamInfo]| v.iter().map(|i| i.stream_id.clone()).collect::<Vec<_>>();
    let all = s.list_streams(&StreamFilter::default()).await.unwrap();
    assert_eq!(
        ids(&all),
        vec![
            "cust-1", "cust-2", "order-1", "order-10", "order-2", "orderx_1"
        ]
    );
    let o1 = &all[2];
    assert_eq!(
        (o1.stream_type.as_str(), o1.version, o1.event_count),
        ("order", 3, 3)
    );
    assert!(o1.last_event_at >= start && o1.last_event_at <= chrono::Utc::now());
    let by_type = s
        .list_streams(&StreamFilter {
            stream_type: Some("customer".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&by_type), vec!["cust-1", "cust-2"]);
    assert_eq!(by_type[1].version, 4);
    let by_prefix = s
        .list_streams(&StreamFilter {
            id_prefix: Some("order-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&by_prefix), vec!["order-1", "order-10"]);
    // LIKE wildcards are not wildcards; prefix matching is case-sensitive.
    let literal = s
        .list_streams(&StreamFilter {
            id_prefix: Some("order_".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(literal.is_empty());
    let upper = s
        .list_streams(&StreamFilter {
            id_prefix: Some("ORDER".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(upper.is_empty());
    // Keyset paging, combined with the type filter.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list_streams(&StreamFilter {
                stream_type: Some("order".into()),
                id_prefix: None,
                after: after.clone(),
                limit: 2,
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.stream_id.clone());
        pages.push(ids(&page));
    }
    assert_eq!(
        pages,
        vec![vec!["order-1", "order-10"], vec!["order-2", "orderx_1"]]
    );
}

async fn subscribe_catch_up_then_live(ctx: Ctx) {
    let s = &ctx.store;
    for i in 0..5 {
        s.append("sub", "t", ExpectedVersion::Any, vec![event("E", json!(i))])
            .await
            .unwrap();
    }
    let mut sub = s.subscribe(2);
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(within("catch-up", sub.next()).await.unwrap().unwrap());
    }
    assert_contiguous(&got, 3, 5);
    let mut watch = s.head_watch();
    assert_eq!(*watch.borrow_and_update(), 5);
    let live = s.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        live.append(
            "sub",
            "t",
            ExpectedVersion::Exact(5),
            vec![event("E", json!(5)), event("E", json!(6))],
        )
        .await
        .unwrap();
    });
    for _ in 0..2 {
        got.push(within("live", sub.next()).await.unwrap().unwrap());
    }
    assert_contiguous(&got, 3, 7);
    assert_eq!(got[4].data, json!(6));
    within("head watch", watch.changed()).await.unwrap();
    assert_eq!(*watch.borrow(), 7);
}

async fn snapshots(ctx: Ctx) {
    use eventstore::Snapshot;
    let s = &ctx.store;
    assert_eq!(s.load_snapshot("agg", 1).await.unwrap(), None);
    let snap = Snapshot {
        stream_id: "agg".into(),
        version: 50,
        schema_version: 1,
        state: json!({"total": 1.25, "lines": [1, 2]}),
    };
    s.save_snapshot(&snap).await.unwrap();
    assert_eq!(s.load_snapshot("agg", 1).await.unwrap(), Some(snap.clone()));
    assert_eq!(
        s.load_snapshot("agg", 2).await.unwrap(),
        None,
        "other schema = absent"
    );
    assert_eq!(s.load_snapshot("other", 1).await.unwrap(), None);
    let newer = Snapshot {
        version: 100,
        schema_version: 2,
        state: json!({"v2": true}),
        ..snap
    };
    s.save_snapshot(&newer).await.unwrap();
    assert_eq!(s.load_snapshot("agg", 2).await.unwrap(), Some(newer));
    assert_eq!(s.load_snapshot("agg", 1).await.unwrap(), None);
}

async fn upcasting_on_every_read_path(ctx: Ctx) {
    let registry = UpcasterRegistry::new()
        .with("ItemAdded", 1, |mut v| {
            let qty = v.get("qty").cloned().ok_or("qty missing")?;
            let obj = v.as_object_mut().ok_or("not an object")?;
            obj.remove("qty");
            obj.insert("quantity".into(), qty);
            Ok(v)
        })
        .with("ItemAdded", 2, |mut v| {
            v["currency"] = json!("EUR");
            Ok(v)
        })
        .with("Broken", 1, |_| Err("cannot upcast".into()));
    let store = SqlEventStore::open(ctx.db.clone(), registry).await.unwrap();
    let correlation = Uuid::now_v7();
    let meta = EventMetadata {
        correlation_id: Some(correlation),
        ..Default::default()
    };
    let mut conn = ctx.db.pool().acquire().await.unwrap();
    let raw = |schema: i32, data: serde_json::Value| (schema, data);
    for (schema, data) in [
        raw(1, json!({"sku": "a", "qty": 1})),
        raw(2, json!({"sku": "b", "quantity": 2})),
    ] {
        raw_append(
            &mut conn,
            ctx.db.backend(),
            "cart-1",
            "cart",
            Uuid::now_v7(),
            "ItemAdded",
            schema,
            &data,
            &meta,
        )
        .await
        .unwrap();
    }
    drop(conn);
    let mut current = NewEvent::new(
        "ItemAdded",
        3,
        json!({"sku": "c", "quantity": 3, "currency": "USD"}),
        meta.clone(),
    );
    current.metadata.user_id = Some("bob".into());
    store
        .append("cart-1", "cart", ExpectedVersion::Exact(2), vec![current])
        .await
        .unwrap();
    let expected = vec![
        json!({"sku": "a", "quantity": 1, "currency": "EUR"}),
        json!({"sku": "b", "quantity": 2, "currency": "EUR"}),
        json!({"sku": "c", "quantity": 3, "currency": "USD"}),
    ];
    let check = |events: Vec<RecordedEvent>, path: &str| {
        assert_eq!(events.len(), 3, "{path}");
        for (e, want) in events.iter().zip(&expected) {
            assert_eq!(e.schema_version, 3, "{path}");
            assert_eq!(&e.data, want, "{path}");
        }
    };
    check(
        store.read_stream("cart-1", 1, 10).await.unwrap(),
        "read_stream",
    );
    check(store.read_all(0, 10).await.unwrap(), "read_all");
    check(
        store.read_correlated(correlation, 10).await.unwrap(),
        "read_correlated",
    );
    let sub: Vec<RecordedEvent> = within(
        "subscribe",
        store.subscribe(0).take(3).map(|r| r.unwrap()).collect(),
    )
    .await;
    check(sub, "subscribe");
    // A failing upcaster is a typed error.
    let mut conn = ctx.db.pool().acquire().await.unwrap();
    raw_append(
        &mut conn,
        ctx.db.backend(),
        "bad",
        "t",
        Uuid::now_v7(),
        "Broken",
        1,
        &json!({}),
        &meta,
    )
    .await
    .unwrap();
    drop(conn);
    match store.read_stream("bad", 1, 10).await {
        Err(StoreError::Upcast {
            event_type,
            from_version,
            reason,
        }) => {
            assert_eq!(
                (event_type.as_str(), from_version, reason.as_str()),
                ("Broken", 1, "cannot upcast")
            );
        }
        other => panic!("expected Upcast error, got {other:?}"),
    }
    // The store without upcasters returns what is stored.
    let raw_events = ctx.store.read_stream("cart-1", 1, 10).await.unwrap();
    assert_eq!(raw_events[0].schema_version, 1);
    assert_eq!(raw_events[0].data, json!({"sku": "a", "qty": 1}));
    store.shutdown().await;
}

async fn checkpoints_in_transactions(ctx: Ctx) {
    let db = &ctx.db;
    assert_eq!(db.load_checkpoint("proj").await.unwrap(), 0);
    let mut tx = db.pool().begin().await.unwrap();
    save_checkpoint(&mut tx, "proj", 42).await.unwrap();
    assert_eq!(load_checkpoint(&mut tx, "proj").await.unwrap(), 42);
    tx.rollback().await.unwrap();
    assert_eq!(
        db.load_checkpoint("proj").await.unwrap(),
        0,
        "rollback discards it"
    );
    let mut tx = db.pool().begin().await.unwrap();
    save_checkpoint(&mut tx, "proj", 7).await.unwrap();
    save_checkpoint(&mut tx, "proj", 8).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.load_checkpoint("proj").await.unwrap(), 8);
    db.save_checkpoint("proj", 9).await.unwrap();
    db.save_checkpoint("other", 1).await.unwrap();
    assert_eq!(db.load_checkpoint("proj").await.unwrap(), 9);
    assert_eq!(db.load_checkpoint("other").await.unwrap(), 1);
}

async fn reopen_keeps_data(ctx: Ctx) {
    let url = ctx.db.url().to_owned();
    let r = ctx
        .store
        .append(
            "keep",
            "t",
            ExpectedVersion::NoStream,
            vec![event("E", json!(1)), event("E", json!(2))],
        )
        .await
        .unwrap();
    ctx.store
        .save_snapshot(&eventstore::Snapshot {
            stream_id: "keep".into(),
            version: 2,
            schema_version: 1,
            state: json!(2),
        })
        .await
        .unwrap();
    ctx.store.shutdown().await;
    assert!(matches!(
        ctx.store
            .append(
                "keep",
                "t",
                ExpectedVersion::Any,
                vec![event("E", json!(0))]
            )
            .await,
        Err(StoreError::Closed)
    ));
    ctx.db.close().await;

    let db = Db::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let store = SqlEventStore::open(db.clone(), UpcasterRegistry::new())
        .await
        .unwrap();
    assert_eq!(store.head_position().await.unwrap(), r.last_position);
    assert_eq!(*store.head_watch().borrow(), 2);
    let events = store.read_stream("keep", 1, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.data.clone()).collect::<Vec<_>>(),
        vec![json!(1), json!(2)]
    );
    assert_eq!(
        store
            .load_snapshot("keep", 1)
            .await
            .unwrap()
            .map(|s| s.version),
        Some(2)
    );
    let r2 = store
        .append(
            "keep",
            "t",
            ExpectedVersion::Exact(2),
            vec![event("E", json!(3))],
        )
        .await
        .unwrap();
    assert_eq!((r2.first_version, r2.first_position), (3, 3));
    store.shutdown().await;
    db.close().await;
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::run(eventstore::Backend::Sqlite, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::run(eventstore::Backend::Postgres, super::$case).await;
                }
            )*
        }
    };
}

conformance!(
    racing_writers_one_winner_per_round,
    expected_version_variants,
    idempotent_retry,
    group_commit_isolates_failures,
    bulk_batch_mixed_outcomes,
    late_commit_is_never_skipped,
    ten_thousand_events_in_one_append,
    read_paths,
    list_streams_filters_and_pages,
    subscribe_catch_up_then_live,
    snapshots,
    upcasting_on_every_read_path,
    checkpoints_in_transactions,
    reopen_keeps_data,
);
