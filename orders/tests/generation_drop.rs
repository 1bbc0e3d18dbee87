//! Issue 16 item 7: dropping the old generation of a large read model after a rebuild swap
//! takes turns with the other writers in bounded chunks, so appends keep committing while it
//! runs (on SQLite one big delete held the write turn, and every append behind it, for its
//! whole duration); queries read the new generation from the swap on. On both backends.

mod projection_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eventstore::{Backend, EventMetadata, EventStore as _, ExpectedVersion, NewEvent};
use projection_support::*;
use serde_json::json;

/// Rows of the old generation to drop.
const OLD_ROWS: i64 = 1_200_000;
/// An append slower than this counts as failed: a client (the HTTP request timeout) would have
/// given up. One bounded chunk of the drop takes a small fraction of it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(1);

/// Fills `generation` of `rm_customers` with `OLD_ROWS` rows (plain SQL, as a large log would).
async fn fill_generation(env: &Env, generation: i64) -> anyhow::Result<()> {
    // In statements of 100,000 rows (each well within PostgreSQL's statement timeout).
    const STEP: i64 = 100_000;
    for from in (0..OLD_ROWS).step_by(STEP as usize) {
        let statement = format!(
            "with recursive n(i) as (select {first} union all select i + 1 from n where i < {last}) \
             insert into rm_customers (generation, customer_id, name, email, registered_at_us, version) \
             select {generation}, 'bulk-' || i, 'Bulk customer ' || i, 'bulk' || i || '@example.com', 0, 1 from n",
            first = from + 1,
            last = (from + STEP).min(OLD_ROWS),
        );
        sqlx::query(&statement).execute(env.db().pool()).await?;
    }
    Ok(())
}

async fn rows_of(env: &Env, generation: i64) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from rm_customers where generation = $1")
            .bind(generation)
            .fetch_one(env.db().pool())
            .await?,
    )
}

/// What the appender saw: committed appends, failed ones (error or slower than
/// [`CLIENT_TIMEOUT`]), the slowest.
type Appends = (u64, Vec<String>, Duration);

/// Appends events no projection reads, one every 5 ms, until `stop`.
fn spawn_appender(env: &Env, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Appends> {
    let store = env.store.clone();
    tokio::spawn(async move {
        let since = Instant::now();
        let (mut ok, mut failed, mut slowest) = (0_u64, Vec::new(), Duration::ZERO);
        let mut n = 0_u64;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let event = NewEvent::new("Noted", 1, json!({ "n": n }), EventMetadata::default());
            let started = Instant::now();
            let answer = tokio::time::timeout(
                CLIENT_TIMEOUT,
                store.append(
                    &format!("noise-{n}"),
                    "noise",
                    ExpectedVersion::NoStream,
                    vec![event],
                ),
            )
            .await;
            slowest = slowest.max(started.elapsed());
            match answer {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(e)) => failed.push(format!("{e} (at {:?})", since.elapsed())),
                Err(_) => failed.push(format!(
                    "no answer within {CLIENT_TIMEOUT:?} (at {:?})",
                    since.elapsed()
                )),
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (ok, failed, slowest)
    })
}

fn assert_no_failed_append(what: &str, (ok, failed, slowest): &Appends) {
    eprintln!(
        "{what}: appends: {ok} ok, {} failed, slowest {slowest:?}",
        failed.len()
    );
    assert!(*ok > 0, "{what}: no append ran");
    assert!(
        failed.is_empty(),
        "{what}: {} appends failed (slowest {slowest:?}): {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
}

async fn large_drop_leaves_appends_committing(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(100)).await?;
    let mut world = World::default();
    random_workload(&env.commands, 7, &mut world, 20).await?;
    catch_up(&env, &runner).await?;
    fill_generation(&env, 1).await?;
    assert_eq!(
        rows_of(&env, 1).await?,
        OLD_ROWS + world.customers.len() as i64
    );

    // Appends (events no projection reads) all through the rebuild and the drop.
    let stop = Arc::new(AtomicBool::new(false));
    let appender = spawn_appender(&env, stop.clone());

    let started = Instant::now();
    let generation = runner.rebuild("customers").await?;
    assert_eq!(generation, 2);
    // Swapped, and the old generation gone.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let status = runner.status_of("customers")?;
        // The status reports the rebuild done once the old rows are gone.
        if status.generation == 2 && status.rebuild.is_none() {
            eprintln!("rebuild done at {:?}", started.elapsed());
            assert_eq!(rows_of(&env, 1).await?, 0, "{status:?}");
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the drop did not finish: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dropped_in = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let appends = appender.await?;
    assert_no_failed_append(
        &format!("{backend:?}: dropped {OLD_ROWS} rows in {dropped_in:?}"),
        &appends,
    );
    // Queries read the new generation: its customers, none of the dropped rows.
    let live: i64 = sqlx::query_scalar(&format!(
        "select count(*) from rm_customers where generation = {}",
        eventstore::projection::LIVE_GENERATION
    ))
    .bind("customers")
    .fetch_one(env.db().pool())
    .await?;
    assert_eq!(live, world.customers.len() as i64);
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_generation_drop_leaves_appends_committing_sqlite() -> anyhow::Result<()> {
    large_drop_leaves_appends_committing(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_generation_drop_leaves_appends_committing_postgres() -> anyhow::Result<()> {
    large_drop_leaves_appends_committing(Backend::Postgres).await
}

/// A rebuild that was abandoned (the process died) left a large generation 2 behind; the next
/// rebuild drops those leftovers before it claims generation 2, in chunks like the drop after a
/// swap, while appends keep committing.
async fn abandoned_rebuild_leftovers_leave_appends_committing(
    backend: Backend,
) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(100)).await?;
    let mut world = World::default();
    random_workload(&env.commands, 8, &mut world, 20).await?;
    catch_up(&env, &runner).await?;
    fill_generation(&env, 2).await?;
    assert_eq!(rows_of(&env, 2).await?, OLD_ROWS);

    let stop = Arc::new(AtomicBool::new(false));
    let appender = spawn_appender(&env, stop.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let generation = runner.rebuild("customers").await?;
    assert_eq!(generation, 2);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let status = runner.status_of("customers")?;
        if status.generation == 2 && status.rebuild.is_none() {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the rebuild did not finish: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let appends = appender.await?;
    assert_no_failed_append(
        &format!("{backend:?}: rebuild over {OLD_ROWS} leftover rows in {took:?}"),
        &appends,
    );
    // Generation 2 holds the rebuilt customers only, none of the leftovers.
    assert_eq!(rows_of(&env, 2).await?, world.customers.len() as i64);
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_rebuild_leftovers_leave_appends_committing_sqlite() -> anyhow::Result<()> {
    abandoned_rebuild_leftovers_leave_appends_committing(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_rebuild_leftovers_leave_appends_committing_postgres() -> anyhow::Result<()> {
    abandoned_rebuild_leftovers_leave_appends_committing(Backend::Postgres).await
}
