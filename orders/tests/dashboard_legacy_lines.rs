//! The dashboard still works on lines written before migration 0007 (no SKU, no unit price):
//! the runner has no schema version that rebuilds a projection by itself, so such rows stay in
//! the live generation until an operator rebuilds. Orders holding them keep folding (quantity
//! changes, removals, new lines, confirmation with the total `OrderConfirmed` states), the
//! statistics equal those of a rebuild, and the rebuild leaves no line without SKU and price.

mod projection_support;

use std::time::Duration;

use domain::values::{Carrier, Money, ProductName, Quantity, Sku, TrackingNumber};
use domain::{OrderId, ProductId};
use eventstore::Backend;
use eventstore::projection::ProjectionState;
use orders::command::CommandContext;
use projection_support::*;

/// (order_id, product_id, product_name, quantity) of every live dashboard line.
async fn live_lines(env: &Env) -> anyhow::Result<Vec<(String, String, String, i64)>> {
    Ok(sqlx::query_as(
        "select order_id, product_id, product_name, quantity from rm_dash_lines \
         where generation = (select generation from projections where name = 'dashboard') \
         order by order_id, product_id",
    )
    .fetch_all(env.db().pool())
    .await?)
}

async fn unpriced_lines(env: &Env) -> anyhow::Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "select count(*) from rm_dash_lines \
         where generation = (select generation from projections where name = 'dashboard') \
         and (sku is null or unit_price_cents is null)",
    )
    .fetch_one(env.db().pool())
    .await?;
    Ok(n)
}

fn qty(n: u32) -> anyhow::Result<Quantity> {
    Quantity::new(n).map_err(|e| anyhow::anyhow!("{e:?}"))
}

async fn legacy_lines_fold_and_rebuild(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let c = &env.commands;
    let ctx = CommandContext::new();
    let mut world = World::default();
    random_workload(c, 11, &mut world, 200).await?;
    // Products of its own: the random workload discontinues some of its products.
    let mut p = Vec::new();
    for n in 0..6 {
        let sku = Sku::parse(&format!("OLD-{n}")).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let name =
            ProductName::parse(&format!("Old line {n}")).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let price = Money::from_cents(150 + 75 * n).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let out = c
            .create_product(
                None,
                orders::command::NewProduct::new(sku, name, price)
                    .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
                &ctx,
            )
            .await?;
        p.push(ProductId::new(out.id));
    }
    let customer = world.customers[0];
    let mut placed = Vec::new();
    for _ in 0..3 {
        placed.push(OrderId::new(c.place_order(None, customer, &ctx).await?.id));
    }
    let (a, b, d) = (placed[0], placed[1], placed[2]);
    c.add_item(a, p[0], qty(2)?, &ctx).await?;
    c.add_item(a, p[1], qty(3)?, &ctx).await?;
    c.add_item(b, p[2], qty(1)?, &ctx).await?;
    c.confirm(b, &ctx).await?;
    c.add_item(d, p[3], qty(4)?, &ctx).await?;
    let runner = env.runner(fast_runner_config(50)).await?;
    catch_up(&env, &runner).await?;
    runner.shutdown().await;

    // The rows as the dashboard wrote them before migration 0007.
    sqlx::query("update rm_dash_lines set sku = null, unit_price_cents = null")
        .execute(env.db().pool())
        .await?;
    sqlx::query("update rm_dash_orders set total_cents = 0 where status = 'draft'")
        .execute(env.db().pool())
        .await?;

    c.change_quantity(a, p[0], qty(5)?, &ctx).await?;
    c.add_item(a, p[4], qty(1)?, &ctx).await?;
    c.confirm(a, &ctx).await?;
    let carrier = Carrier::parse("DHL").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let tracking = TrackingNumber::parse("TRK1234").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    c.ship(b, carrier, tracking, &ctx).await?;
    c.remove_item(d, p[3], &ctx).await?;
    c.add_item(d, p[5], qty(2)?, &ctx).await?;
    c.confirm(d, &ctx).await?;
    world.orders.extend([a, b, d]);
    random_workload(c, 12, &mut world, 200).await?;

    let runner = env.runner(fast_runner_config(7)).await?;
    catch_up(&env, &runner).await?;
    for s in runner.status() {
        assert_ne!(s.state, ProjectionState::Faulted, "{s:#?}");
    }
    assert!(
        unpriced_lines(&env).await? > 0,
        "{backend}: the old lines are kept"
    );
    let queries = env.queries(&runner, Duration::from_secs(10));
    let now = chrono::Utc::now();
    let live = queries.dashboard(Some(now), None).await?.data;
    let lines = live_lines(&env).await?;
    assert!(live.revenue_cents > 0);

    let before = live_generations(env.db()).await?["dashboard"];
    runner.rebuild("dashboard").await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while live_generations(env.db()).await?["dashboard"] == before
        || runner.status().iter().any(|s| s.rebuild.is_some())
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "rebuild did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rebuilt = queries.dashboard(Some(now), None).await?.data;
    assert_eq!(live, rebuilt, "{backend}: statistics over old lines");
    assert_eq!(lines, live_lines(&env).await?, "{backend}: lines");
    assert_eq!(unpriced_lines(&env).await?, 0, "{backend}: rebuilt lines");

    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_lines_fold_and_rebuild_sqlite() -> anyhow::Result<()> {
    legacy_lines_fold_and_rebuild(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_lines_fold_and_rebuild_postgres() -> anyhow::Result<()> {
    legacy_lines_fold_and_rebuild(Backend::Postgres).await
}
