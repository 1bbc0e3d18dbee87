//! The hash chain at the real fault: rows changed, deleted, swapped, forged and inserted with
//! raw SQL on the real database, each found by verify at the right position; the backfill of a
//! database whose rows have no hash; an anchor that catches a whole-tail rewrite. Every case runs
//! on SQLite and PostgreSQL (`chain_cases!` at the bottom).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use eventstore::chain::{self, Content};
use eventstore::testing::{TestDb, raw_append};
use eventstore::{
    Anchor, Backend, ChainProblem, Db, EventMetadata, EventStore, ExpectedVersion, NewEvent,
    SqlEventStore, StoreOptions, StreamAppend, UpcasterRegistry, VerifyRange, VerifyReport,
    chain_head, verify,
};
use futures::FutureExt as _;
use serde_json::{Value, json};
use sqlx::Row as _;
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

/// Data whose stored text PostgreSQL's JSONB normalises (key order, spacing, number forms):
/// the chain must hash it the same way before and after.
fn awkward_data(i: usize) -> Value {
    serde_json::from_str(&format!(
        r#"{{ "zeta": {i}, "alpha": {{ "y": [3, {{"b": 1, "a": 0.1}}], "x": "ünï😀 \"q\" \\ /" }},
            "float": 1.5e-7, "big": 1e20, "neg": -12.25, "one": 1.0, "nothing": null,
            "mid": {{ "k2": true, "k10": false, "K": "" }} }}"#
    ))
    .expect("test json")
}

fn event(i: usize) -> NewEvent {
    let mut e = NewEvent::new("Happened", 1, awkward_data(i), EventMetadata::default());
    if i.is_multiple_of(3) {
        e.tags = vec![format!("t:{}", i % 7), "a:tag".to_owned()];
    }
    e
}

/// `n` events: single appends spread over streams, then concurrent appends (one batch, bulk
/// path), then multi-stream appends.
async fn fill(store: &SqlEventStore, n: usize) {
    let third = n / 3;
    for i in 0..third {
        store
            .append(
                &format!("s-{}", i % 5),
                "thing",
                ExpectedVersion::Any,
                vec![event(i)],
            )
            .await
            .expect("append");
    }
    let appends = (third..2 * third).map(|i| {
        let store = store.clone();
        async move {
            store
                .append(
                    &format!("c-{}", i % 9),
                    "thing",
                    ExpectedVersion::Any,
                    vec![event(i)],
                )
                .await
                .expect("concurrent append");
        }
    });
    futures::future::join_all(appends).await;
    let mut i = 2 * third;
    while i < n {
        let take = (n - i).min(3);
        let appends = (0..take)
            .map(|k| {
                StreamAppend::new(
                    format!("m-{k}"),
                    "thing",
                    ExpectedVersion::Any,
                    vec![event(i + k)],
                )
            })
            .collect();
        store
            .append_multi(appends, None)
            .await
            .expect("multi append");
        i += take;
    }
}

async fn check(db: &Db) -> VerifyReport {
    tokio::time::timeout(
        Duration::from_secs(60),
        verify(db, VerifyRange::default(), None, |_| {}),
    )
    .await
    .expect("verify in time")
    .expect("verify runs")
}

async fn head(db: &Db) -> i64 {
    chain_head(db).await.expect("head").position
}

async fn exec(db: &Db, statement: &str) {
    sqlx::query(statement)
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// The stored hash of row `position`.
async fn stored_hash(db: &Db, position: i64) -> Option<Vec<u8>> {
    sqlx::query_scalar("select hash from events where position = $1")
        .bind(position)
        .fetch_one(db.pool())
        .await
        .expect("stored hash")
}

/// Rewrites row `position`'s data to `data` and gives it a hash recomputed with the chain
/// module, chained to `prev` (its stored prev_hash when `None`): a forger who knows the format.
/// Returns the new hash.
async fn forge(db: &Db, position: i64, data: &Value, prev: Option<chain::Hash>) -> chain::Hash {
    let select = match db.backend() {
        Backend::Sqlite => {
            "select event_id, stream_id, stream_type, event_type, schema_version, \
             metadata, tags, version, recorded_at_us, prev_hash from events where position = $1"
        }
        Backend::Postgres => {
            "select event_id, stream_id, stream_type, event_type, \
             schema_version, metadata::text, tags, version, recorded_at_us, prev_hash \
             from events where position = $1"
        }
    };
    let row = sqlx::query(select)
        .bind(position)
        .fetch_one(db.pool())
        .await
        .expect("row to forge");
    let metadata: Value = serde_json::from_str(&row.get::<String, _>(5)).expect("stored metadata");
    let tags: Vec<String> = row
        .get::<Option<String>, _>(6)
        .map(|t| serde_json::from_str(&t).expect("stored tags"))
        .unwrap_or_default();
    let stored_prev: Option<Vec<u8>> = row.get(9);
    let prev = prev
        .unwrap_or_else(|| chain::from_column(stored_prev.as_deref()).expect("stored prev hash"));
    let digest = chain::content_digest(&Content {
        event_id: &row.get::<String, _>(0),
        stream_id: &row.get::<String, _>(1),
        stream_type: &row.get::<String, _>(2),
        event_type: &row.get::<String, _>(3),
        schema_version: row.get(4),
        data,
        metadata: &metadata,
        tags: &tags,
    });
    let hash = chain::row_hash(&prev, position, row.get(7), row.get(8), &digest);
    let update = format!(
        "update events set data = $1{}, hash = $2, prev_hash = $3 where position = $4",
        db.backend().json_param()
    );
    sqlx::query(&update)
        .bind(serde_json::to_string(data).expect("data"))
        .bind(hash.to_vec())
        .bind(prev.to_vec())
        .bind(position)
        .execute(db.pool())
        .await
        .expect("forge");
    hash
}

/// Opens a write transaction that holds the log head lock, as another writer would.
async fn hold_log(db: &Db) -> sqlx::Transaction<'static, sqlx::Any> {
    let (begin, lock) = match db.backend() {
        Backend::Sqlite => ("begin immediate", "select position from log_head"),
        Backend::Postgres => ("begin", "select position from log_head for update"),
    };
    let mut tx = db.pool().begin_with(begin).await.expect("begin");
    let _: i64 = sqlx::query_scalar(lock)
        .fetch_one(&mut *tx)
        .await
        .expect("lock the head");
    tx
}

// ---------------------------------------------------------------------------------------------
// Cases

/// A clean log written by every path (single, concurrent bulk batches, multi-stream, an exact
/// path batch with failed appends in the middle, a raw append) verifies intact, and the chain
/// head is the last row's hash.
async fn clean_log_verifies(ctx: Ctx) {
    fill(&ctx.store, 300).await;
    // An exact-path batch: the appends queue while another transaction holds the log; the
    // batch then holds a retry of a stored event (the bulk insert fails on its id, so the batch
    // runs append by append in savepoints) and an append whose expected version fails.
    let stored = event(1000);
    ctx.store
        .append(
            "x-1",
            "thing",
            ExpectedVersion::NoStream,
            vec![stored.clone()],
        )
        .await
        .expect("append");
    let held = hold_log(&ctx.db).await;
    let mut appends = Vec::new();
    for i in 0..20 {
        let store = ctx.store.clone();
        let stored = stored.clone();
        appends.push(tokio::spawn(async move {
            match i {
                7 => store
                    .append("x-1", "thing", ExpectedVersion::Any, vec![stored])
                    .await
                    .map(|_| ()),
                11 => store
                    .append("x-1", "thing", ExpectedVersion::Exact(99), vec![event(i)])
                    .await
                    .map(|_| ()),
                _ => store
                    .append(
                        &format!("y-{i}"),
                        "thing",
                        ExpectedVersion::Any,
                        vec![event(i), event(i + 1)],
                    )
                    .await
                    .map(|_| ()),
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.rollback().await.expect("release the log");
    let mut failed = 0;
    for a in appends {
        if a.await.expect("task").is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 1, "only the wrong expected version fails");
    let mut conn = ctx.db.pool().acquire().await.expect("conn");
    raw_append(
        &mut conn,
        ctx.db.backend(),
        "raw-1",
        "thing",
        Uuid::now_v7(),
        "Raw",
        1,
        &awkward_data(1),
        &EventMetadata::default(),
    )
    .await
    .expect("raw append");
    drop(conn);
    ctx.store
        .append("z-1", "thing", ExpectedVersion::Any, vec![event(2000)])
        .await
        .expect("append after the raw one");

    let report = check(&ctx.db).await;
    let last = head(&ctx.db).await;
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!(report.checked, u64::try_from(last).expect("head"));
    assert_eq!(last, 300 + 1 + 36 + 1 + 1);
    let chain_head = chain_head(&ctx.db).await.expect("head");
    assert_eq!(
        chain_head.hash.map(|h| h.to_vec()),
        stored_hash(&ctx.db, last).await
    );
    // Every row carries both hashes, and each links to the one before.
    let unhashed: i64 =
        sqlx::query_scalar("select count(*) from events where hash is null or prev_hash is null")
            .fetch_one(ctx.db.pool())
            .await
            .expect("count");
    assert_eq!(unhashed, 0);
}

/// PostgreSQL gives JSONB back in its own text (key order, spacing); the canonical form of the
/// re-parsed text is the same bytes as that of the value that was written.
async fn canonical_json_survives_the_stored_text(ctx: Ctx) {
    let data = awkward_data(5);
    ctx.store
        .append(
            "j-1",
            "thing",
            ExpectedVersion::Any,
            vec![NewEvent::new(
                "J",
                1,
                data.clone(),
                EventMetadata::default(),
            )],
        )
        .await
        .expect("append");
    let select = match ctx.db.backend() {
        Backend::Sqlite => "select data from events where position = 1",
        Backend::Postgres => "select data::text from events where position = 1",
    };
    let text: String = sqlx::query_scalar(select)
        .fetch_one(ctx.db.pool())
        .await
        .expect("stored text");
    if ctx.db.backend() == Backend::Postgres {
        assert_ne!(
            text,
            serde_json::to_string(&data).expect("text"),
            "JSONB normalises"
        );
    }
    let back: Value = serde_json::from_str(&text).expect("parse");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    chain::canonical_json(&data, &mut a);
    chain::canonical_json(&back, &mut b);
    assert_eq!(String::from_utf8(a), String::from_utf8(b));
    assert_eq!(check(&ctx.db).await.problem, None);
}

/// `UPDATE events set data = ...` of one row: that row.
async fn updated_row_is_changed(ctx: Ctx) {
    fill(&ctx.store, 300).await;
    let json = ctx.db.backend().json_param();
    exec(
        &ctx.db,
        &format!("update events set data = '{{\"x\": 1}}'{json} where position = 150"),
    )
    .await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Changed { position: 150 })
    );
}

/// An UPDATE of a column outside the JSON (the recorded time): that row.
async fn updated_time_is_changed(ctx: Ctx) {
    fill(&ctx.store, 60).await;
    exec(
        &ctx.db,
        "update events set recorded_at_us = recorded_at_us + 1 where position = 60",
    )
    .await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Changed { position: 60 })
    );
}

/// `DELETE` of one row: missing there; of the last row: missing at the head.
async fn deleted_row_is_missing(ctx: Ctx) {
    fill(&ctx.store, 300).await;
    exec(&ctx.db, "delete from events where position = 150").await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Missing { position: 150 })
    );
    exec(&ctx.db, "delete from events where position < 150").await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Missing { position: 1 })
    );
}

async fn deleted_tail_is_missing(ctx: Ctx) {
    fill(&ctx.store, 90).await;
    exec(&ctx.db, "delete from events where position >= 80").await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Missing { position: 80 })
    );
}

/// Two rows whose positions are exchanged: the lower one (the position is hashed).
async fn swapped_rows_are_changed(ctx: Ctx) {
    fill(&ctx.store, 300).await;
    exec(
        &ctx.db,
        "update events set position = -1 where position = 100",
    )
    .await;
    exec(
        &ctx.db,
        "update events set position = 100 where position = 200",
    )
    .await;
    exec(
        &ctx.db,
        "update events set position = 200 where position = -1",
    )
    .await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Changed { position: 100 })
    );
}

/// A row rewritten with a hash recomputed by someone who knows the format (its prev kept): it
/// checks by itself, the next row's link names it.
async fn forged_row_is_changed(ctx: Ctx) {
    fill(&ctx.store, 300).await;
    forge(&ctx.db, 150, &json!({"forged": true}), None).await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Changed { position: 150 })
    );
}

/// The whole tail rewritten from row 200 with every hash recomputed: the chain checks; an
/// anchor exported before finds it.
async fn anchor_catches_a_tail_rewrite(ctx: Ctx) {
    fill(&ctx.store, 300).await;
    let anchor: Anchor = chain_head(&ctx.db)
        .await
        .expect("head")
        .anchor()
        .expect("anchor");
    assert_eq!(anchor.position, 300);
    assert_eq!(anchor.algorithm, chain::ALGORITHM);
    let intact = verify(&ctx.db, VerifyRange::default(), Some(&anchor), |_| {})
        .await
        .expect("verify");
    assert_eq!(intact.problem, None);

    let mut prev = chain::from_column(stored_hash(&ctx.db, 199).await.as_deref()).expect("hash");
    for position in 200..=300 {
        prev = forge(
            &ctx.db,
            position,
            &json!({"rewritten": position}),
            Some(prev),
        )
        .await;
    }
    assert_eq!(
        check(&ctx.db).await.problem,
        None,
        "a consistent rewrite checks without an anchor"
    );
    let report = verify(&ctx.db, VerifyRange::default(), Some(&anchor), |_| {})
        .await
        .expect("verify");
    assert_eq!(
        report.problem,
        Some(ChainProblem::AnchorMismatch { position: 300 })
    );
    // An anchor beyond a shortened log.
    let ahead = Anchor {
        position: 400,
        ..anchor
    };
    let report = verify(&ctx.db, VerifyRange::default(), Some(&ahead), |_| {})
        .await
        .expect("verify");
    assert_eq!(
        report.problem,
        Some(ChainProblem::AnchorMismatch { position: 400 })
    );
}

/// A row beyond the log head (inserted without taking a position from the counter).
async fn row_beyond_the_head_is_inserted(ctx: Ctx) {
    fill(&ctx.store, 30).await;
    let json = ctx.db.backend().json_param();
    exec(
        &ctx.db,
        &format!(
            "insert into events (position, event_id, stream_id, stream_type, version, event_type, \
             schema_version, data, metadata, recorded_at_us) values (31, '{}', 'q-1', 'thing', 1, \
             'Q', 1, '{{}}'{json}, '{{}}'{json}, 1)",
            Uuid::now_v7()
        ),
    )
    .await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Inserted { position: 31 })
    );
}

/// A range starts from the stored hash of the row before it; a change outside it is not seen.
async fn range_verify(ctx: Ctx) {
    fill(&ctx.store, 300).await;
    let json = ctx.db.backend().json_param();
    exec(
        &ctx.db,
        &format!("update events set data = '[]'{json} where position = 250"),
    )
    .await;
    let range = VerifyRange {
        from: Some(100),
        to: Some(200),
    };
    let mut pages = 0;
    let report = verify(&ctx.db, range, None, |p| {
        pages += 1;
        assert_eq!(p.total, 101);
    })
    .await
    .expect("verify");
    assert_eq!((report.problem, report.checked, pages), (None, 101, 1));
    let range = VerifyRange {
        from: Some(201),
        to: None,
    };
    let report = verify(&ctx.db, range, None, |_| {}).await.expect("verify");
    assert_eq!(
        report.problem,
        Some(ChainProblem::Changed { position: 250 })
    );
}

/// A database whose rows lost their hashes (as before migration 0013) is hashed at the next
/// open, with exactly the hashes the writer gave them; a single unhashed row in the middle of a
/// chained log is not laundered.
async fn backfill_at_open(ctx: Ctx) {
    fill(&ctx.store, 300).await;
    let before: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("select hash from events order by position")
            .fetch_all(ctx.db.pool())
            .await
            .expect("hashes");
    ctx.store.shutdown().await;
    exec(&ctx.db, "update events set hash = null, prev_hash = null").await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Unchained { position: 1 })
    );

    let reopened = SqlEventStore::open(ctx.db.clone(), UpcasterRegistry::new())
        .await
        .expect("reopen");
    let after: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("select hash from events order by position")
            .fetch_all(ctx.db.pool())
            .await
            .expect("hashes");
    assert_eq!(after, before, "the backfill computes the writer's hashes");
    assert_eq!(check(&ctx.db).await.problem, None);
    reopened
        .append("after", "thing", ExpectedVersion::Any, vec![event(1)])
        .await
        .expect("append after the backfill");
    assert_eq!(check(&ctx.db).await.problem, None);
    reopened.shutdown().await;

    // Resumes: the rows after a crash mid-way (its checkpoint says 150) are hashed at reopen.
    exec(
        &ctx.db,
        "update events set hash = null, prev_hash = null where position > 150",
    )
    .await;
    exec(
        &ctx.db,
        "update checkpoints set position = 150 where name = 'eventstore:chain-backfill'",
    )
    .await;
    let reopened = SqlEventStore::open(ctx.db.clone(), UpcasterRegistry::new())
        .await
        .expect("reopen");
    reopened.shutdown().await;
    assert_eq!(check(&ctx.db).await.problem, None);

    // Not its own: left alone and reported.
    exec(&ctx.db, "update events set hash = null where position = 77").await;
    let reopened = SqlEventStore::open(ctx.db.clone(), UpcasterRegistry::new())
        .await
        .expect("reopen");
    reopened.shutdown().await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Unchained { position: 77 })
    );
}

/// With the chain off, rows carry no hash (and verify says so); appends never fail because of
/// an unhashed predecessor.
async fn chain_off_leaves_rows_unhashed(ctx: Ctx) {
    ctx.store.shutdown().await;
    let off = SqlEventStore::open_with(
        ctx.db.clone(),
        UpcasterRegistry::new(),
        StoreOptions { hash_chain: false },
    )
    .await
    .expect("open without chain");
    fill(&off, 30).await;
    off.shutdown().await;
    let hashed: i64 = sqlx::query_scalar("select count(*) from events where hash is not null")
        .fetch_one(ctx.db.pool())
        .await
        .expect("count");
    assert_eq!(hashed, 0);
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Unchained { position: 1 })
    );
}

/// A log of several verify pages (5,000 rows each): progress per page, and a deleted row right
/// after a page boundary and a changed one on a later page are found at their positions.
async fn pages_and_boundaries(ctx: Ctx) {
    for chunk in 0..12 {
        let events = (0..1_000).map(|i| event(chunk * 1_000 + i)).collect();
        ctx.store
            .append(
                &format!("big-{chunk}"),
                "thing",
                ExpectedVersion::NoStream,
                events,
            )
            .await
            .expect("big append");
    }
    let mut seen = Vec::new();
    let report = verify(&ctx.db, VerifyRange::default(), None, |p| {
        seen.push((p.checked, p.total))
    })
    .await
    .expect("verify");
    assert_eq!(report.problem, None);
    assert_eq!(
        seen,
        vec![(5_000, 12_000), (10_000, 12_000), (12_000, 12_000)]
    );
    let json = ctx.db.backend().json_param();
    exec(
        &ctx.db,
        &format!("update events set data = '1'{json} where position = 10000"),
    )
    .await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Changed { position: 10_000 })
    );
    exec(&ctx.db, "delete from events where position = 5001").await;
    assert_eq!(
        check(&ctx.db).await.problem,
        Some(ChainProblem::Missing { position: 5_001 })
    );
}

/// The empty log's anchor (position 0, the genesis hash) checks against any later log; a wrong
/// hash at position 0 does not.
async fn empty_log_anchor(ctx: Ctx) {
    let anchor = chain_head(&ctx.db)
        .await
        .expect("head")
        .anchor()
        .expect("anchor");
    assert_eq!(
        (anchor.position, anchor.hash.as_str()),
        (0, "0".repeat(64).as_str())
    );
    fill(&ctx.store, 30).await;
    let report = verify(&ctx.db, VerifyRange::default(), Some(&anchor), |_| {})
        .await
        .expect("verify");
    assert_eq!(report.problem, None);
    let wrong = Anchor {
        hash: "1".repeat(64),
        ..anchor
    };
    let report = verify(&ctx.db, VerifyRange::default(), Some(&wrong), |_| {})
        .await
        .expect("verify");
    assert_eq!(
        report.problem,
        Some(ChainProblem::AnchorMismatch { position: 0 })
    );
}

/// Another writer (another process) appends while the store's writer waits for the log head
/// lock: the store's next row must chain to the row that writer committed, which the statement
/// that took the lock did not see when it started (PostgreSQL's statement snapshot).
async fn chains_to_a_row_committed_while_waiting(ctx: Ctx) {
    fill(&ctx.store, 20).await;
    for round in 0..3 {
        let (begin, lock) = match ctx.db.backend() {
            Backend::Sqlite => ("begin immediate", "select 1"),
            Backend::Postgres => ("begin", "select 1"),
        };
        let mut tx = ctx.db.pool().begin_with(begin).await.expect("begin");
        let _: i32 = sqlx::query_scalar(lock)
            .fetch_one(&mut *tx)
            .await
            .expect("select");
        raw_append(
            &mut tx,
            ctx.db.backend(),
            &format!("other-{round}"),
            "thing",
            Uuid::now_v7(),
            "Other",
            1,
            &awkward_data(round),
            &EventMetadata::default(),
        )
        .await
        .expect("raw append");
        let store = ctx.store.clone();
        let waiting = tokio::spawn(async move {
            store
                .append("waiter", "thing", ExpectedVersion::Any, vec![event(round)])
                .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.commit().await.expect("commit the other writer");
        waiting.await.expect("task").expect("the waiting append");
    }
    assert_eq!(check(&ctx.db).await.problem, None);
}

/// Another writer appends to the very stream the store's waiting append goes to: the waiting
/// append (expected version `Any`) must land after it, at version 2, and chain to its row.
/// On PostgreSQL the statement that took the lock read the stream's version with a snapshot
/// from before that commit; the store must notice and read it again.
async fn lands_after_a_stream_write_committed_while_waiting(ctx: Ctx) {
    fill(&ctx.store, 5).await;
    for round in 0..3 {
        let stream = format!("shared-{round}");
        let begin = match ctx.db.backend() {
            Backend::Sqlite => "begin immediate",
            Backend::Postgres => "begin",
        };
        let mut tx = ctx.db.pool().begin_with(begin).await.expect("begin");
        raw_append(
            &mut tx,
            ctx.db.backend(),
            &stream,
            "thing",
            Uuid::now_v7(),
            "Other",
            1,
            &awkward_data(round),
            &EventMetadata::default(),
        )
        .await
        .expect("raw append");
        let store = ctx.store.clone();
        let target = stream.clone();
        let waiting = tokio::spawn(async move {
            store
                .append(&target, "thing", ExpectedVersion::Any, vec![event(round)])
                .await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.commit().await.expect("commit the other writer");
        let result = waiting.await.expect("task").expect("the waiting append");
        assert_eq!(result.first_version, 2, "round {round}: {result:?}");
        let versions: Vec<i64> = ctx
            .store
            .read_stream(&stream, 1, 10)
            .await
            .expect("read")
            .iter()
            .map(|e| e.version)
            .collect();
        assert_eq!(versions, vec![1, 2]);
    }
    assert_eq!(check(&ctx.db).await.problem, None);
}

macro_rules! chain_cases {
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

chain_cases!(
    clean_log_verifies,
    canonical_json_survives_the_stored_text,
    updated_row_is_changed,
    updated_time_is_changed,
    deleted_row_is_missing,
    deleted_tail_is_missing,
    swapped_rows_are_changed,
    forged_row_is_changed,
    anchor_catches_a_tail_rewrite,
    row_beyond_the_head_is_inserted,
    range_verify,
    backfill_at_open,
    chain_off_leaves_rows_unhashed,
    pages_and_boundaries,
    empty_log_anchor,
    chains_to_a_row_committed_while_waiting,
    lands_after_a_stream_write_committed_while_waiting,
);
