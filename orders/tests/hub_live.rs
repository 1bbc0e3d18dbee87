//! The live hub: a subscriber receives the change for an append (with the new summary row), a
//! subscriber that does not keep up receives a resync, and reconnects catch up from the ring.

mod projection_support;

use std::time::Duration;

use domain::CustomerId;
use domain::values::{CustomerName, Email};
use eventstore::Backend;
use orders::command::CommandContext;
use orders::hub::{HubConfig, HubMessage, LiveHub};
use projection_support::*;

fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:?}"))
}

async fn subscriber_gets_changes(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(100)).await?;
    let hub = LiveHub::start(env.db().clone(), &runner, HubConfig::default());
    let mut sub = hub.subscribe();
    let ctx = CommandContext::new();
    let customer = env
        .commands
        .register_customer(
            None,
            v(CustomerName::parse("Ada Lovelace"))?,
            v(Email::parse("ada@example.com"))?,
            &ctx,
        )
        .await?;
    let placed = env
        .commands
        .place_order(None, CustomerId::new(customer.id), &ctx)
        .await?;

    let mut projections = std::collections::BTreeSet::new();
    let change = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match sub.recv().await {
                Some(HubMessage::Change(c))
                    if c.projection == "orders" && c.position >= placed.position =>
                {
                    return Ok(c);
                }
                Some(HubMessage::Change(c)) => {
                    projections.insert(c.projection.clone());
                }
                Some(_) => {}
                None => anyhow::bail!("hub stopped"),
            }
        }
    })
    .await??;
    assert!(change.streams.contains(&placed.stream_id), "{change:?}");
    // Only a customer and an order were written: the product projection changed nothing and
    // published nothing.
    assert!(!projections.contains("products"), "{projections:?}");
    let summary = change.orders.iter().find(|o| o.order_id == placed.id);
    assert_eq!(
        summary.map(|s| s.customer_name.as_str()),
        Some("Ada Lovelace")
    );
    assert_eq!(summary.map(|s| s.version), Some(placed.version));

    // A reconnecting client gets what it missed from the ring.
    let missed = hub.changes_since(customer.position - 1).unwrap_or_default();
    assert!(
        missed
            .iter()
            .any(|c| c.projection == "orders" && c.position == placed.position)
    );
    // A client at the head may only be sent repeats of changes at its own position.
    let head_changes = hub.changes_since(hub.position()).unwrap_or_default();
    assert!(head_changes.iter().all(|c| c.position == hub.position()));

    hub.shutdown().await;
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_gets_changes_sqlite() -> anyhow::Result<()> {
    subscriber_gets_changes(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_gets_changes_postgres() -> anyhow::Result<()> {
    subscriber_gets_changes(Backend::Postgres).await
}

async fn lagging_subscriber_gets_resync(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    // Batches of one event: every command yields several changes.
    let runner = env.runner(fast_runner_config(1)).await?;
    let config = HubConfig {
        capacity: 2,
        ring: 4,
        max_orders: 20,
    };
    let hub = LiveHub::start(env.db().clone(), &runner, config);
    let mut slow = hub.subscribe();
    let mut world = World::default();
    random_workload(&env.commands, 9, &mut world, 10).await?;
    let head = catch_up(&env, &runner).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hub.position() < head {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "hub at {}",
            hub.position()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The slow subscriber read nothing while far more than 2 changes were published.
    match slow.recv().await {
        Some(HubMessage::Resync { position }) => {
            assert!(position >= head - 1, "{position} < {head}")
        }
        other => panic!("expected a resync, got {other:?}"),
    }
    // The ring only covers the last 4 changes: older reconnects must resync.
    assert_eq!(hub.changes_since(0), None);
    // A client at the head may only be sent repeats of changes at its own position.
    let head_changes = hub.changes_since(hub.position()).unwrap_or_default();
    assert!(head_changes.iter().all(|c| c.position == hub.position()));

    hub.shutdown().await;
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_subscriber_gets_resync_sqlite() -> anyhow::Result<()> {
    lagging_subscriber_gets_resync(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_subscriber_gets_resync_postgres() -> anyhow::Result<()> {
    lagging_subscriber_gets_resync(Backend::Postgres).await
}
