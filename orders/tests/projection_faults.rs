//! A poison event faults only the projections that cannot read it; a rebuild under concurrent
//! command load keeps queries answering, refuses a second rebuild and equals the live model.

mod projection_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eventstore::projection::{ProjectionState, RunnerError};
use eventstore::testing::raw_append;
use eventstore::{Backend, EventMetadata};
use orders::query::OrderFilter;
use projection_support::*;
use uuid::Uuid;

async fn poison_faults_only_its_projection(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(20)).await?;
    let mut world = World::default();
    random_workload(&env.commands, 5, &mut world, 40).await?;
    catch_up(&env, &runner).await?;

    // An OrderPlaced whose stored data is not an OrderPlaced at all.
    let poison_id = Uuid::now_v7();
    let mut conn = env.db().pool().acquire().await?;
    let poison_at = raw_append(
        &mut conn,
        backend,
        &format!("order-{poison_id}"),
        "order",
        Uuid::now_v7(),
        "OrderPlaced",
        1,
        &serde_json::json!({ "garbage": true }),
        &EventMetadata::default(),
    )
    .await?;
    drop(conn);
    // Later events keep flowing to the projections that can read them.
    random_workload(&env.commands, 6, &mut world, 40).await?;
    let head = env.head().await?;
    assert!(head > poison_at);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let faulted = ["orders", "dashboard"].iter().all(|n| {
            runner
                .status_of(n)
                .is_ok_and(|s| s.state == ProjectionState::Faulted)
        });
        let others = ["customers", "products", "activity"]
            .iter()
            .all(|n| runner.checkpoint(n).is_ok_and(|c| c >= head));
        if faulted && others {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "expected orders/dashboard faulted and the rest at {head}: {:#?}",
            runner.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let orders = runner.status_of("orders")?;
    let fault = orders.fault.as_ref().map(|f| f.position);
    assert_eq!(fault, Some(poison_at));
    assert_eq!(orders.checkpoint, poison_at - 1);

    // The faulted model still answers (stale for positions past the fault).
    let queries = env.queries(&runner, Duration::from_millis(100));
    let page = queries
        .list_orders(&OrderFilter::default(), Some(head))
        .await?;
    assert!(page.stale);
    assert_eq!(page.position, poison_at - 1);
    let activity = queries.activity(Some(100), Some(head)).await?;
    assert!(!activity.stale);
    assert!(activity.data.iter().any(|a| a.position == poison_at));

    // Skipping the poison event lets the projection carry on.
    runner.skip("orders", "test poison", "tester").await?;
    assert!(
        runner
            .wait_for("orders", head, Duration::from_secs(30))
            .await?
    );
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_faults_only_its_projection_sqlite() -> anyhow::Result<()> {
    poison_faults_only_its_projection(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_faults_only_its_projection_postgres() -> anyhow::Result<()> {
    poison_faults_only_its_projection(Backend::Postgres).await
}

async fn rebuild_under_load(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(50)).await?;
    let mut world = World::default();
    random_workload(&env.commands, 11, &mut world, 300).await?;
    catch_up(&env, &runner).await?;
    let queries = env.queries(&runner, Duration::from_millis(500));

    let stop = Arc::new(AtomicBool::new(false));
    // Writer: keeps issuing commands during the rebuild.
    let writer = {
        let commands = env.commands.clone();
        let stop = stop.clone();
        let mut world = world.clone();
        tokio::spawn(async move {
            let mut seed = 100;
            while !stop.load(Ordering::Relaxed) {
                random_workload(&commands, seed, &mut world, 10).await?;
                seed += 1;
            }
            anyhow::Ok(())
        })
    };
    // Reader: every query must keep answering.
    let reader = {
        let queries = queries.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut answered = 0_u32;
            while !stop.load(Ordering::Relaxed) {
                let page = queries.list_orders(&OrderFilter::default(), None).await?;
                anyhow::ensure!(!page.data.orders.is_empty(), "order list went empty");
                queries.dashboard(None, None).await?;
                queries.customers(&Default::default(), None).await?;
                queries.products(&Default::default(), None).await?;
                queries.activity(None, None).await?;
                answered += 1;
            }
            anyhow::Ok(answered)
        })
    };

    let before = live_generations(env.db()).await?;
    let generation = runner.rebuild("orders").await?;
    assert_eq!(Some(generation), before.get("orders").map(|g| g + 1));
    // A second concurrent rebuild is refused.
    match runner.rebuild("orders").await {
        Err(RunnerError::RebuildInProgress { generation: g, .. }) => assert_eq!(g, generation),
        other => panic!("second rebuild should be refused, got {other:?}"),
    }
    for projection in domain::live::ProjectionName::ALL {
        if projection.name() != "orders" {
            runner.rebuild(projection.name()).await?;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let now = live_generations(env.db()).await?;
        if before
            .iter()
            .all(|(n, g)| now.get(n).is_some_and(|x| x > g))
            && runner.status().iter().all(|s| s.rebuild.is_none())
        {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{:#?}",
            runner.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let some more load hit the new generation, then stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await??;
    let answered = reader.await??;
    assert!(answered > 0);

    catch_up(&env, &runner).await?;
    let live = dump_live(env.db()).await?;
    let replay = replay_dump(&env, 3_000).await?;
    assert_same(&live, &replay, &format!("{backend} rebuilt under load"));
    // The old generations were dropped.
    let old: i64 = sqlx::query_scalar("select count(*) from rm_orders where generation = $1")
        .bind(before["orders"])
        .fetch_one(env.db().pool())
        .await?;
    assert_eq!(old, 0);
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_under_load_sqlite() -> anyhow::Result<()> {
    rebuild_under_load(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_under_load_postgres() -> anyhow::Result<()> {
    rebuild_under_load(Backend::Postgres).await
}
