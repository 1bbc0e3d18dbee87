//! Read models equal a from-scratch replay: after random command workloads, after a rebuild by
//! the runner, and after a runner was stopped abruptly mid-catch-up and restarted.

mod projection_support;

use std::time::Duration;

use eventstore::Backend;
use eventstore::projection::ProjectionState;
use projection_support::*;

async fn random_workloads_equal_replay(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(50)).await?;
    let mut world = World::default();
    for seed in [1_u64, 2, 3] {
        random_workload(&env.commands, seed * 7919, &mut world, 150).await?;
        catch_up(&env, &runner).await?;
        let live = dump_live(env.db()).await?;
        let replay = replay_dump(&env, 1_000 + seed as i64).await?;
        assert_same(&live, &replay, &format!("{backend} seed {seed}"));
        assert!(!live["rm_orders"].is_empty());
        assert_eq!(
            live["rm_users"].len(),
            world.accounts.len(),
            "one row per account"
        );
    }

    // The orders read model agrees with the domain's own fold of every order stream.
    let oracle = domain_orders(&env).await?;
    let live = dump_live(env.db()).await?;
    let rows = &live["rm_orders"];
    assert_eq!(rows.len(), oracle.len());
    for row in rows {
        let (status, total) = &oracle[&row[0]];
        assert_eq!(row[3], status.as_str(), "status of {}", row[0]);
        if *status != domain::order::OrderStatus::Draft || row[5] != "0" {
            assert_eq!(row[5], total.to_string(), "total of {}", row[0]);
        }
    }

    // A rebuild through the runner yields the same rows.
    let before = live_generations(env.db()).await?;
    runner.rebuild_all().await?;
    wait_rebuilt(&runner, &env, &before).await?;
    let rebuilt = dump_live(env.db()).await?;
    assert_same(&rebuilt, &live, &format!("{backend} runner rebuild"));
    for s in runner.status() {
        assert_ne!(s.state, ProjectionState::Faulted, "{s:#?}");
    }
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

/// Waits until every projection's live generation moved past `before` and no rebuild runs.
pub async fn wait_rebuilt(
    runner: &eventstore::projection::ProjectionRunner,
    env: &Env,
    before: &std::collections::BTreeMap<String, i64>,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let now = live_generations(env.db()).await?;
        let done = runner.status().iter().all(|s| s.rebuild.is_none())
            && before
                .iter()
                .all(|(name, g)| now.get(name).is_some_and(|n| n > g));
        if done {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "rebuild did not finish: {:#?}",
            runner.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_workloads_equal_replay_sqlite() -> anyhow::Result<()> {
    random_workloads_equal_replay(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_workloads_equal_replay_postgres() -> anyhow::Result<()> {
    random_workloads_equal_replay(Backend::Postgres).await
}

/// A runner that catches up over a whole workload in batches of 1,000 events (the batch folds:
/// orders placed, changed and confirmed within one batch, activity rows pruned within it)
/// leaves the same rows as applying every event one by one.
async fn big_batches_equal_replay(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let mut world = World::default();
    random_workload(&env.commands, 4242, &mut world, 1_500).await?;
    let head = env.head().await?;
    anyhow::ensure!(head > 500, "the workload wrote only {head} events");
    let runner = env.runner(fast_runner_config(1_000)).await?;
    catch_up(&env, &runner).await?;
    for s in runner.status() {
        assert_ne!(s.state, ProjectionState::Faulted, "{s:#?}");
    }
    let live = dump_live(env.db()).await?;
    let replay = replay_dump(&env, 3_000).await?;
    assert_same(&live, &replay, &format!("{backend} big batches"));
    assert!(!live["rm_orders"].is_empty());
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_batches_equal_replay_sqlite() -> anyhow::Result<()> {
    big_batches_equal_replay(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_batches_equal_replay_postgres() -> anyhow::Result<()> {
    big_batches_equal_replay(Backend::Postgres).await
}

async fn abrupt_stop_then_restart(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let mut world = World::default();
    random_workload(&env.commands, 42, &mut world, 400).await?;
    let head = env.head().await?;

    // Small batches so the runner is in the middle of catching up when it is killed. It runs on
    // its own pool, closed after the kill the way a crashed process's connections die (an
    // in-process abort alone can leave a SQLite connection holding the write lock: see report).
    let crash_db = eventstore::Db::connect_with(env.db().url(), 3).await?;
    let crash_store = std::sync::Arc::new(
        eventstore::SqlEventStore::open(crash_db.clone(), orders::command::upcaster_registry())
            .await?,
    );
    let runner = eventstore::projection::ProjectionRunner::start(
        crash_store.clone(),
        orders::projections::all(),
        fast_runner_config(7),
    )
    .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while runner.checkpoint("orders")? < head / 3 {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "runner did not start"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let killed_at: Vec<i64> = runner
        .names()
        .iter()
        .map(|n| runner.checkpoint(n))
        .collect::<Result<_, _>>()?;
    // Dropping the last handle aborts the tasks: a batch in flight rolls back.
    drop(runner);
    crash_store.shutdown().await;
    tokio::time::timeout(Duration::from_secs(10), crash_db.close())
        .await
        .map_err(|_| anyhow::anyhow!("the killed runner's connections did not close"))?;
    assert!(
        killed_at.iter().any(|c| *c < head),
        "runner finished before it could be stopped: {killed_at:?} of {head}"
    );

    // More commands while nothing projects, then a new runner resumes from the checkpoints.
    random_workload(&env.commands, 43, &mut world, 100).await?;
    let runner = env.runner(fast_runner_config(7)).await?;
    catch_up(&env, &runner).await?;
    for s in runner.status() {
        // Applying an event twice would fault (duplicate keys) or show in the comparison.
        assert_ne!(s.state, ProjectionState::Faulted, "{s:#?}");
    }
    let live = dump_live(env.db()).await?;
    let replay = replay_dump(&env, 2_000).await?;
    assert_same(&live, &replay, &format!("{backend} after restart"));
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_stop_then_restart_sqlite() -> anyhow::Result<()> {
    abrupt_stop_then_restart(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_stop_then_restart_postgres() -> anyhow::Result<()> {
    abrupt_stop_then_restart(Backend::Postgres).await
}
