//! The live hub: a subscriber receives a change of every read model an append changed (orders,
//! customers, products: each page's topic), none of one it did not change, a subscriber that
//! does not keep up receives a resync, and reconnects catch up from the ring.

mod projection_support;

use std::time::Duration;

use domain::CustomerId;
use domain::live::{Change, ProjectionName, Topic};
use domain::values::{CustomerName, Email, Money, ProductName, Sku};
use eventstore::Backend;
use orders::command::CommandContext;
use orders::hub::{HubConfig, HubMessage, HubSubscription, LiveHub};
use projection_support::*;

fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// Reads changes into `seen` until `done(seen)`.
async fn until(
    sub: &mut HubSubscription,
    seen: &mut Vec<Change>,
    done: impl Fn(&[Change]) -> bool,
) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !done(seen) {
            match sub.recv().await {
                Some(HubMessage::Change(c)) => seen.push(Change::clone(&c)),
                Some(_) => {}
                None => anyhow::bail!("hub stopped"),
            }
        }
        Ok(())
    })
    .await
    .map_err(|_| anyhow::anyhow!("no such change in time; got {seen:?}"))?
}

/// The first change in `seen` that all of `topics` cover, at or after `position`.
fn covered<'a>(seen: &'a [Change], topics: &[Topic], position: i64) -> Option<&'a Change> {
    seen.iter()
        .find(|c| c.position >= position && topics.iter().all(|t| t.covers(c)))
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

    // The order page's and the customers page's topics each get their change, naming the
    // stream that caused it.
    let order_page = [Topic::Order { id: placed.id }];
    let customers_page = [
        Topic::Customers,
        Topic::Stream {
            id: customer.stream_id.clone(),
        },
    ];
    let mut seen = Vec::new();
    until(&mut sub, &mut seen, |seen| {
        covered(seen, &order_page, placed.position).is_some()
            && covered(seen, &customers_page, customer.position).is_some()
    })
    .await?;
    let change = covered(&seen, &order_page, placed.position);
    assert_eq!(change.map(|c| c.projection), Some(ProjectionName::Orders));
    // Only a customer and an order were written: the product projection changed nothing and
    // published nothing.
    assert!(!seen.iter().any(|c| Topic::Products.covers(c)), "{seen:?}");

    // A product created: the products page's topic gets the change.
    let product = env
        .commands
        .create_product(
            None,
            orders::command::NewProduct::new(
                v(Sku::parse("HUB-1"))?,
                v(ProductName::parse("Hub tea"))?,
                v(Money::from_cents(350))?,
            )
            .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
            &ctx,
        )
        .await?;
    let products_page = [
        Topic::Products,
        Topic::Stream {
            id: product.stream_id.clone(),
        },
    ];
    until(&mut sub, &mut seen, |seen| {
        covered(seen, &products_page, product.position).is_some()
    })
    .await?;

    // A reconnecting client gets what it missed from the ring.
    let missed = hub.changes_since(customer.position - 1).unwrap_or_default();
    assert!(
        missed
            .iter()
            .any(|c| c.projection == ProjectionName::Orders && c.position == placed.position)
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
        Some(HubMessage::Resync { position, .. }) => {
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
