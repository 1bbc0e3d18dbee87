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
    AppendCondition, AppendResult, Backend, Db, EventMetadata, EventQuery, EventStore,
    ExpectedVersion, NewEvent, QueryItem, RecordedEvent, SqlEventStore, StoreError, StreamAppend,
    StreamConflict, StreamFilter, UpcasterRegistry, load_checkpoint, save_checkpoint,
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
    check(
        store
            .read_query(&EventQuery::item(QueryItem::types(["ItemAdded"])), 0, 10)
            .await
            .unwrap(),
        "read_query",
    );
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

// ---------------------------------------------------------------------------------------------
// Multi-stream appends, tags, queries and conditional appends (DCB)

fn tagged(event_type: &str, data: serde_json::Value, tags: &[&str]) -> NewEvent {
    event(event_type, data).with_tags(tags.iter().copied())
}

fn to(stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> StreamAppend {
    StreamAppend::new(stream, "t", expected, events)
}

fn on_tags(tags: &[&str]) -> EventQuery {
    EventQuery::item(QueryItem::tags(tags.iter().copied()))
}

fn condition(query: EventQuery, after: i64) -> Option<AppendCondition> {
    Some(AppendCondition::new(query, after))
}

fn condition_failed(result: Result<Vec<AppendResult>, StoreError>) -> i64 {
    match result {
        Err(StoreError::ConditionFailed { position }) => position,
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
}

fn conflicts(result: Result<Vec<AppendResult>, StoreError>) -> Vec<StreamConflict> {
    match result {
        Err(StoreError::WrongExpectedVersions { conflicts }) => conflicts,
        other => panic!("expected WrongExpectedVersions, got {other:?}"),
    }
}

/// One stale expected version fails the whole multi-stream append: nothing is written and the
/// error names every failing stream with its actual version. Invalid input writes nothing.
async fn multi_stream_all_or_nothing(ctx: Ctx) {
    use ExpectedVersion::*;
    let s = &ctx.store;
    s.append(
        "a",
        "t",
        NoStream,
        vec![event("E", json!(1)), event("E", json!(2))],
    )
    .await
    .unwrap();
    s.append("b", "t", NoStream, vec![event("E", json!(3))])
        .await
        .unwrap();
    let result = s
        .append_multi(
            vec![
                to("a", Exact(2), vec![event("E", json!("a3"))]),
                to("b", Exact(0), vec![event("E", json!("b2"))]),
                to("c", NoStream, vec![event("E", json!("c1"))]),
                to("d", StreamExists, vec![event("E", json!("d1"))]),
                to("a2", NoStream, vec![event("E", json!("x"))]),
            ],
            None,
        )
        .await;
    assert_eq!(
        conflicts(result),
        vec![
            StreamConflict {
                stream: "b".into(),
                expected: Exact(0),
                actual: 1
            },
            StreamConflict {
                stream: "d".into(),
                expected: StreamExists,
                actual: 0
            },
        ]
    );
    let nothing_written = || async {
        assert_eq!(s.head_position().await.unwrap(), 3);
        assert_contiguous(&s.read_all(0, 100).await.unwrap(), 1, 3);
        for (stream, version) in [("a", 2), ("b", 1), ("c", 0), ("d", 0), ("a2", 0)] {
            assert_eq!(s.stream_version(stream).await.unwrap(), version, "{stream}");
        }
    };
    nothing_written().await;
    // Invalid input: typed errors, nothing written.
    assert!(matches!(
        s.append_multi(Vec::new(), None).await,
        Err(StoreError::NoStreams)
    ));
    match s
        .append_multi(
            vec![
                to("c", Any, vec![event("E", json!(1))]),
                to("c", Any, vec![event("E", json!(2))]),
            ],
            None,
        )
        .await
    {
        Err(StoreError::DuplicateStream { stream }) => assert_eq!(stream, "c"),
        other => panic!("expected DuplicateStream, got {other:?}"),
    }
    match s
        .append_multi(
            vec![
                to("c", Any, vec![event("E", json!(1))]),
                to("d", Any, Vec::new()),
            ],
            None,
        )
        .await
    {
        Err(StoreError::EmptyStreamAppend { stream }) => assert_eq!(stream, "d"),
        other => panic!("expected EmptyStreamAppend, got {other:?}"),
    }
    // One event id in two streams of one append can never be stored.
    let dup = event("E", json!(1));
    assert!(matches!(
        s.append_multi(
            vec![to("c", Any, vec![dup.clone()]), to("d", Any, vec![dup])],
            None
        )
        .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // A later stream reusing a stored event id fails the whole append (unique index path).
    let stored = s.read_stream("b", 1, 1).await.unwrap().remove(0);
    let mut reused = event("E", json!(3));
    reused.event_id = stored.event_id;
    assert!(matches!(
        s.append_multi(
            vec![
                to("c", Any, vec![event("E", json!("c1"))]),
                to("d", Any, vec![reused])
            ],
            None
        )
        .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // A single-stream append keeps its single-stream error.
    assert_eq!(
        wrong_version(
            s.append("b", "t", Exact(0), vec![event("E", json!(0))])
                .await
                .unwrap_err()
        ),
        1
    );
    nothing_written().await;
}

/// A multi-stream append lands stream after stream at contiguous positions, each stream's
/// versions continuing its own.
async fn multi_stream_contiguous_positions(ctx: Ctx) {
    use ExpectedVersion::*;
    let s = &ctx.store;
    s.append("x", "t", NoStream, vec![event("E", json!(0))])
        .await
        .unwrap();
    let results = s
        .append_multi(
            vec![
                to(
                    "a",
                    NoStream,
                    vec![event("E", json!("a1")), event("E", json!("a2"))],
                ),
                to("x", Exact(1), vec![event("E", json!("x2"))]),
                StreamAppend::new(
                    "b",
                    "other",
                    Any,
                    vec![
                        event("E", json!("b1")),
                        event("E", json!("b2")),
                        event("E", json!("b3")),
                    ],
                ),
            ],
            None,
        )
        .await
        .unwrap();
    let summary: Vec<(i64, i64, i64, i64)> = results
        .iter()
        .map(|r| {
            (
                r.first_version,
                r.last_version,
                r.first_position,
                r.last_position,
            )
        })
        .collect();
    assert_eq!(summary, vec![(1, 2, 2, 3), (2, 2, 4, 4), (1, 3, 5, 7)]);
    let all = s.read_all(0, 100).await.unwrap();
    assert_contiguous(&all, 1, 7);
    let order: Vec<(&str, i64)> = all
        .iter()
        .map(|e| (e.stream_id.as_str(), e.version))
        .collect();
    assert_eq!(
        order,
        vec![
            ("x", 1),
            ("a", 1),
            ("a", 2),
            ("x", 2),
            ("b", 1),
            ("b", 2),
            ("b", 3)
        ]
    );
    assert_eq!(all[4].stream_type, "other");
    assert_eq!(s.head_position().await.unwrap(), 7);
    for (stream, version) in [("a", 2), ("x", 2), ("b", 3)] {
        assert_eq!(s.stream_version(stream).await.unwrap(), version);
    }
    let streams = s.list_streams(&StreamFilter::default()).await.unwrap();
    assert_eq!(streams.len(), 3);
}

/// Seeds the log used by the condition and query cases: positions 1-4.
async fn seed_products(s: &SqlEventStore) {
    for (stream, e) in [
        (
            "product-1",
            tagged("ProductCreated", json!(1), &["product:1"]),
        ),
        (
            "product-2",
            tagged("ProductCreated", json!(2), &["product:2"]),
        ),
        (
            "order-7",
            tagged("StockReserved", json!(7), &["product:1", "order:7"]),
        ),
        ("misc", event("Other", json!(null))),
    ] {
        s.append(stream, "t", ExpectedVersion::Any, vec![e])
            .await
            .unwrap();
    }
}

/// A conditional append fails when an event matching its query is stored after `after` (the
/// error names the first one) and succeeds otherwise: by types, by tags, by both, several tags,
/// several items. A failed one writes nothing.
async fn conditional_append_checks_the_query(ctx: Ctx) {
    let s = &ctx.store;
    seed_products(s).await;
    // Probes are never matched by the queries below (type Probe, no tags).
    let try_append = |query: EventQuery, after: i64| async move {
        s.append_multi(
            vec![to(
                "probe",
                ExpectedVersion::Any,
                vec![event("Probe", json!(after))],
            )],
            condition(query, after),
        )
        .await
    };
    let reserved = || EventQuery::item(QueryItem::types(["StockReserved"]));
    let created_1 =
        || EventQuery::item(QueryItem::types(["ProductCreated"]).with_tags(["product:1"]));
    let several = || EventQuery::new([QueryItem::types(["Other"]), QueryItem::tags(["product:2"])]);
    let fails: Vec<(EventQuery, i64, i64)> = vec![
        // types only
        (reserved(), 0, 3),
        (reserved(), 2, 3),
        (
            EventQuery::item(QueryItem::types(["Other", "StockReserved"])),
            0,
            3,
        ),
        // tags only
        (on_tags(&["product:1"]), 0, 1),
        (on_tags(&["product:1"]), 1, 3),
        // all tags of an item
        (on_tags(&["order:7", "product:1"]), 0, 3),
        // types and tags
        (created_1(), 0, 1),
        // several items: the first match of any
        (several(), 0, 2),
        (several(), 2, 4),
    ];
    for (query, after, position) in fails {
        assert_eq!(
            condition_failed(try_append(query.clone(), after).await),
            position,
            "{query:?} after {after}"
        );
    }
    assert_eq!(
        s.head_position().await.unwrap(),
        4,
        "failed appends write nothing"
    );
    assert_eq!(s.stream_version("probe").await.unwrap(), 0);
    let passes: Vec<(EventQuery, i64)> = vec![
        (reserved(), 3),
        (EventQuery::item(QueryItem::types(["Missing"])), 0),
        (on_tags(&["product:1"]), 3),
        (on_tags(&["product:3"]), 0),
        // no event carries both
        (on_tags(&["product:2", "order:7"]), 0),
        // product:1 only on a StockReserved after 1
        (created_1(), 1),
        (
            EventQuery::item(QueryItem::types(["StockReserved"]).with_tags(["product:2"])),
            0,
        ),
        (several(), 4),
        // a query without items matches nothing
        (EventQuery::default(), 0),
    ];
    let mut head = 4;
    for (query, after) in passes {
        let result = try_append(query.clone(), after)
            .await
            .unwrap_or_else(|e| panic!("{query:?} after {after}: {e:?}"));
        head += 1;
        assert_eq!(result[0].last_position, head);
    }
    // A single-stream conditional append is append_multi with one entry; one with an empty
    // item matches every event.
    assert_eq!(
        condition_failed(try_append(EventQuery::item(QueryItem::default()), 0).await),
        1
    );
    assert_contiguous(&s.read_all(0, 100).await.unwrap(), 1, head);
}

/// Appends queued behind a held log land in one batch; a conditional append sees the events of
/// the appends before it in the batch (and not those of appends that failed), on the bulk path
/// and on the per-append path (forced by an append that reuses a stored event id).
async fn condition_sees_the_same_batch(ctx: Ctx) {
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
    for round in 0..2 {
        let head = s.head_position().await.unwrap();
        let held = hold_log(&ctx.db, &format!("held-{round}")).await;
        let mut tasks = Vec::new();
        let mut send = |appends: Vec<StreamAppend>, condition: Option<AppendCondition>| {
            let store = s.clone();
            tasks.push(tokio::spawn(async move {
                store.append_multi(appends, condition).await
            }));
        };
        let seat = |n: &str| format!("seat:{round}:{n}");
        // The writer takes this one alone into the batch that waits for the held log; the
        // appends below queue meanwhile and form the next batch together.
        send(
            vec![to(
                "first",
                ExpectedVersion::Any,
                vec![event("E", json!(round))],
            )],
            None,
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        if round == 1 {
            // Reuses a stored event id with `Any`: the bulk insert fails, the batch runs again
            // append by append.
            send(
                vec![to(
                    "reuse",
                    ExpectedVersion::Any,
                    vec![event("E", json!(0)), stored.clone()],
                )],
                None,
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // 1: books seat 1.
        send(
            vec![to(
                &format!("booking-{round}-1"),
                ExpectedVersion::NoStream,
                vec![tagged("SeatBooked", json!(1), &[&seat("1")])],
            )],
            None,
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        // 2: books seat 1 too, if nobody has since `head`: sees 1 in the same batch.
        send(
            vec![to(
                &format!("booking-{round}-2"),
                ExpectedVersion::NoStream,
                vec![tagged("SeatBooked", json!(2), &[&seat("1"), &seat("2")])],
            )],
            condition(on_tags(&[&seat("1")]), head),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        // 3: books seat 2, if nobody has: 2 failed, so nobody has.
        send(
            vec![to(
                &format!("booking-{round}-3"),
                ExpectedVersion::NoStream,
                vec![tagged("SeatBooked", json!(3), &[&seat("2")])],
            )],
            condition(on_tags(&[&seat("2")]), head),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        // 4: books seat 2 as well: sees 3.
        send(
            vec![to(
                &format!("booking-{round}-4"),
                ExpectedVersion::NoStream,
                vec![tagged("SeatBooked", json!(4), &[&seat("2")])],
            )],
            condition(on_tags(&[&seat("2")]), head),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        held.commit().await.unwrap();
        let mut results = Vec::new();
        for task in tasks {
            results.push(within("append", task).await.unwrap());
        }
        let lone = results.remove(0).unwrap();
        assert_eq!(
            lone[0].first_position,
            head + 2,
            "after the held raw append"
        );
        if round == 1 {
            assert!(matches!(
                results.remove(0),
                Err(StoreError::IdempotencyConflict { .. })
            ));
        }
        let mut results = results.into_iter();
        let first = results.next().unwrap().unwrap();
        assert_eq!(first[0].first_position, head + 3);
        assert_eq!(
            condition_failed(results.next().unwrap()),
            first[0].last_position
        );
        let third = results.next().unwrap().unwrap();
        assert_eq!(third[0].first_position, first[0].last_position + 1);
        assert_eq!(
            condition_failed(results.next().unwrap()),
            third[0].last_position
        );
        assert_eq!(s.head_position().await.unwrap(), third[0].last_position);
        assert_contiguous(
            &s.read_all(0, 100).await.unwrap(),
            1,
            third[0].last_position,
        );
        for n in [2, 4] {
            let stream = format!("booking-{round}-{n}");
            assert_eq!(s.stream_version(&stream).await.unwrap(), 0);
        }
    }
}

/// A retry of a stored conditional or multi-stream append answers its original results even
/// though its own events now fail the condition or the versions; changed content does not.
async fn idempotent_conditional_and_multi_stream_retry(ctx: Ctx) {
    use ExpectedVersion::*;
    let s = &ctx.store;
    let email = || on_tags(&["email:x"]);
    let signup = vec![to(
        "customer-1",
        NoStream,
        vec![tagged(
            "CustomerRegistered",
            json!({"email": "x"}),
            &["email:x"],
        )],
    )];
    let first = s
        .append_multi(signup.clone(), condition(email(), 0))
        .await
        .unwrap();
    for _ in 0..2 {
        let again = s
            .append_multi(signup.clone(), condition(email(), 0))
            .await
            .unwrap();
        assert_eq!(again, first);
    }
    // The same id with other tags is no retry.
    let mut changed = signup.clone();
    changed[0].events[0].tags = vec!["email:y".into()];
    assert!(matches!(
        s.append_multi(changed, condition(on_tags(&["email:y"]), 0))
            .await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // Another customer with the same email fails the condition.
    let other = vec![to(
        "customer-2",
        NoStream,
        vec![tagged(
            "CustomerRegistered",
            json!({"email": "x"}),
            &["email:x"],
        )],
    )];
    assert_eq!(
        condition_failed(s.append_multi(other, condition(email(), 0)).await),
        1
    );
    assert_eq!(s.head_position().await.unwrap(), 1);

    // Multi-stream: a retry with now stale versions answers the original results.
    let transfer = vec![
        to("account-a", NoStream, vec![event("Debited", json!(5))]),
        to(
            "account-b",
            NoStream,
            vec![event("Credited", json!(5)), event("Noted", json!("x"))],
        ),
    ];
    let first = s.append_multi(transfer.clone(), None).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!((first[1].first_position, first[1].last_position), (3, 4));
    for condition in [
        None,
        condition(EventQuery::item(QueryItem::types(["Debited"])), 0),
    ] {
        let again = s.append_multi(transfer.clone(), condition).await.unwrap();
        assert_eq!(again, first);
    }
    let mut relaxed = transfer.clone();
    relaxed[0].expected = Any;
    relaxed[1].expected = Any;
    assert_eq!(s.append_multi(relaxed, None).await.unwrap(), first);
    // A changed event in the second stream is a conflict.
    let mut changed = transfer.clone();
    changed[1].events[1].data = json!("y");
    assert!(matches!(
        s.append_multi(changed, None).await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    // The first stream's events alone, in a new multi-stream append, are no retry either.
    let partial = vec![
        transfer[0].clone(),
        to("account-c", NoStream, vec![event("Credited", json!(5))]),
    ];
    assert!(matches!(
        s.append_multi(partial, None).await,
        Err(StoreError::IdempotencyConflict { .. })
    ));
    assert_eq!(s.head_position().await.unwrap(), 4);
    assert_contiguous(&s.read_all(0, 100).await.unwrap(), 1, 4);
    assert_eq!(s.stream_version("account-c").await.unwrap(), 0);
}

/// 32 writers per round each read by tag and append "if nobody has since": exactly one wins
/// per round, the others fail the condition (or saw the winner's event in their read).
///
/// Half of the writers use a second store on the same database (its own writer task and
/// transactions, as another process would): the condition holds across writers, not only
/// within one group-commit batch.
async fn racing_conditional_appends_one_winner_per_round(ctx: Ctx) {
    const TASKS: usize = 32;
    const ROUNDS: usize = 25;
    let other = SqlEventStore::open(ctx.db.clone(), UpcasterRegistry::new())
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = if task % 2 == 0 {
            ctx.store.clone()
        } else {
            other.clone()
        };
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let mut wins = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                let tag = format!("slot:{round}");
                let query = on_tags(&[&tag]);
                let head = store.head_position().await.unwrap();
                let seen = store.read_query(&query, 0, 10).await.unwrap();
                if !seen.is_empty() {
                    continue;
                }
                let e = tagged("SlotTaken", json!({"task": task, "round": round}), &[&tag]);
                let id = e.event_id;
                let append = to(&format!("taker-{task}"), ExpectedVersion::Any, vec![e]);
                match store
                    .append_multi(vec![append], condition(query, head))
                    .await
                {
                    Ok(_) => wins.push((round, id)),
                    Err(StoreError::ConditionFailed { position }) => assert!(position > head),
                    Err(other) => panic!("unexpected error: {other:?}"),
                }
            }
            wins
        }));
    }
    let mut winners: BTreeMap<usize, Vec<Uuid>> = BTreeMap::new();
    for handle in handles {
        for (round, id) in within("racers", handle).await.expect("task") {
            winners.entry(round).or_default().push(id);
        }
    }
    assert_eq!(winners.len(), ROUNDS);
    assert!(
        winners.values().all(|w| w.len() == 1),
        "one winner per round: {winners:?}"
    );
    for (round, ids) in &winners {
        let stored = ctx
            .store
            .read_query(&on_tags(&[&format!("slot:{round}")]), 0, 100)
            .await
            .unwrap();
        assert_eq!(stored.iter().map(|e| e.event_id).collect::<Vec<_>>(), *ids);
    }
    assert_contiguous(
        &ctx.store.read_all(0, 1000).await.unwrap(),
        1,
        ROUNDS as i64,
    );
    other.shutdown().await;
}

/// 32 writers append to two or three of 8 streams at once with exact versions, retrying on
/// conflicts: no update is lost, every stream's versions are contiguous and every stream holds
/// exactly the events of the appends that succeeded on it.
async fn racing_multi_stream_appends_lose_no_update(ctx: Ctx) {
    const TASKS: usize = 32;
    const APPENDS: usize = 8;
    const STREAMS: usize = 8;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = ctx.store.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let mut done: Vec<(String, Uuid)> = Vec::new();
            let mut conflicts_seen = 0;
            barrier.wait().await;
            for n in 0..APPENDS {
                let width = 2 + (task + n) % 2;
                let streams: Vec<String> = (0..width)
                    .map(|k| format!("s{}", (task + n + k * 3) % STREAMS))
                    .collect();
                loop {
                    let mut appends = Vec::new();
                    let mut expected = Vec::new();
                    for stream in &streams {
                        let version = store.stream_version(stream).await.unwrap();
                        expected.push(version);
                        let e = event("Moved", json!({"task": task, "n": n}));
                        appends.push(to(stream, ExpectedVersion::Exact(version), vec![e]));
                    }
                    let ids: Vec<(String, Uuid)> = appends
                        .iter()
                        .map(|a| (a.stream_id.clone(), a.events[0].event_id))
                        .collect();
                    match store.append_multi(appends, None).await {
                        Ok(results) => {
                            for (result, version) in results.iter().zip(&expected) {
                                assert_eq!(result.first_version, version + 1);
                            }
                            done.extend(ids);
                            break;
                        }
                        Err(StoreError::WrongExpectedVersions { conflicts }) => {
                            conflicts_seen += 1;
                            assert!(!conflicts.is_empty());
                            for c in conflicts {
                                let i = streams.iter().position(|s| *s == c.stream).unwrap();
                                assert_eq!(c.expected, ExpectedVersion::Exact(expected[i]));
                                assert!(c.actual > expected[i], "{c:?}");
                            }
                        }
                        Err(other) => panic!("unexpected error: {other:?}"),
                    }
                }
            }
            (done, conflicts_seen)
        }));
    }
    let mut written: BTreeMap<String, HashSet<Uuid>> = BTreeMap::new();
    let mut total = 0;
    for handle in handles {
        let (done, _conflicts) = within("racers", handle).await.expect("task");
        for (stream, id) in done {
            total += 1;
            assert!(written.entry(stream).or_default().insert(id));
        }
    }
    for (stream, ids) in &written {
        let events = ctx.store.read_stream(stream, 1, 10_000).await.unwrap();
        let versions: Vec<i64> = events.iter().map(|e| e.version).collect();
        assert_eq!(
            versions,
            (1..=ids.len() as i64).collect::<Vec<_>>(),
            "{stream}"
        );
        let stored: HashSet<Uuid> = events.iter().map(|e| e.event_id).collect();
        assert_eq!(&stored, ids, "{stream}: exactly the successful appends");
        assert_eq!(
            ctx.store.stream_version(stream).await.unwrap(),
            ids.len() as i64
        );
    }
    assert_contiguous(&ctx.store.read_all(0, 10_000).await.unwrap(), 1, total);
}

/// Every read path hands out an event's tags (sorted, distinct); events without tags have none.
async fn tags_on_every_read_path(ctx: Ctx) {
    let s = &ctx.store;
    let correlation = Uuid::now_v7();
    let mut e = correlated("Tagged", json!(1), correlation);
    e.tags = vec!["b".into(), "a".into(), "b".into()];
    s.append(
        "tagged",
        "t",
        ExpectedVersion::NoStream,
        vec![e, correlated("Plain", json!(2), correlation)],
    )
    .await
    .unwrap();
    let want = vec!["a".to_owned(), "b".to_owned()];
    let check = |events: Vec<RecordedEvent>, path: &str| {
        assert_eq!(events.len(), 2, "{path}");
        assert_eq!(events[0].tags, want, "{path}");
        assert!(events[1].tags.is_empty(), "{path}");
    };
    check(s.read_stream("tagged", 1, 10).await.unwrap(), "read_stream");
    check(s.read_all(0, 10).await.unwrap(), "read_all");
    check(
        s.read_correlated(correlation, 10).await.unwrap(),
        "read_correlated",
    );
    let sub: Vec<RecordedEvent> = within(
        "subscribe",
        s.subscribe(0).take(2).map(|r| r.unwrap()).collect(),
    )
    .await;
    check(sub, "subscribe");
    let query = EventQuery::new([QueryItem::tags(["a"]), QueryItem::types(["Plain"])]);
    check(s.read_query(&query, 0, 10).await.unwrap(), "read_query");
    // By any one of its tags, or both.
    for tags in [&["a"][..], &["b"], &["a", "b"], &["b", "a", "b"]] {
        let found = s.read_query(&on_tags(tags), 0, 10).await.unwrap();
        assert_eq!(found.len(), 1, "{tags:?}");
        assert_eq!(found[0].tags, want);
    }
    // The envelope serialises its tags (and reads old JSON without them).
    let stored = s.read_all(0, 1).await.unwrap().remove(0);
    let json = serde_json::to_value(&stored).unwrap();
    assert_eq!(json["tags"], json!(["a", "b"]));
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("tags");
    let back: RecordedEvent = serde_json::from_value(old).unwrap();
    assert!(back.tags.is_empty());
}

/// `read_query` answers the matching events in position order, each once (even when it
/// matches several items), paged by `after_position` and `limit`.
async fn read_query_pages_by_position(ctx: Ctx) {
    let s = &ctx.store;
    let mut appended = Vec::new();
    for i in 0..30 {
        let event_type = if i % 3 == 0 { "A" } else { "B" };
        let mut tags = vec![format!("mod2:{}", i % 2)];
        if i % 5 == 0 {
            tags.push("five".into());
        }
        let e = event(event_type, json!(i)).with_tags(tags);
        appended.push(e.clone());
        s.append(&format!("s{}", i % 4), "t", ExpectedVersion::Any, vec![e])
            .await
            .unwrap();
    }
    let queries = [
        EventQuery::item(QueryItem::types(["A"])),
        on_tags(&["mod2:0"]),
        on_tags(&["mod2:0", "five"]),
        EventQuery::item(QueryItem::types(["B"]).with_tags(["five"])),
        EventQuery::new([QueryItem::types(["A"]), QueryItem::tags(["five"])]),
        EventQuery::new([QueryItem::tags(["mod2:1"]), QueryItem::tags(["five"])]),
        EventQuery::item(QueryItem::default()),
    ];
    for query in &queries {
        let expected: Vec<i64> = (1_i64..)
            .zip(&appended)
            .filter(|(_, e)| {
                let mut tags = e.tags.clone();
                tags.sort();
                query.matches(&e.event_type, &tags)
            })
            .map(|(position, _)| position)
            .collect();
        assert!(!expected.is_empty());
        for page_size in [1, 4, 100] {
            let mut got = Vec::new();
            let mut after = 0;
            loop {
                let page = s.read_query(query, after, page_size).await.unwrap();
                assert!(page.len() <= page_size as usize);
                let Some(last) = page.last() else { break };
                after = last.position;
                got.extend(page.iter().map(|e| e.position));
            }
            assert_eq!(got, expected, "{query:?} by {page_size}");
        }
        // From the middle.
        let middle = expected[expected.len() / 2];
        let rest: Vec<i64> = s
            .read_query(query, middle, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.position)
            .collect();
        assert_eq!(
            rest,
            expected
                .iter()
                .copied()
                .filter(|p| *p > middle)
                .collect::<Vec<_>>()
        );
        assert!(s.read_query(query, 0, 0).await.unwrap().is_empty());
    }
    assert!(
        s.read_query(&EventQuery::default(), 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A query too large for one statement is refused, typed.
    let huge = on_tags(&vec!["t"; 1_000]);
    assert!(matches!(
        s.read_query(&huge, 0, 10).await,
        Err(StoreError::QueryTooLarge { .. })
    ));
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
    multi_stream_all_or_nothing,
    multi_stream_contiguous_positions,
    conditional_append_checks_the_query,
    condition_sees_the_same_batch,
    idempotent_conditional_and_multi_stream_retry,
    racing_conditional_appends_one_winner_per_round,
    racing_multi_stream_appends_lose_no_update,
    tags_on_every_read_path,
    read_query_pages_by_position,
);
