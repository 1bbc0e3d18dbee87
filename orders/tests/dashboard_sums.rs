//! The dashboard's sums never overflow: large orders (at the highest price entry accepts) sum
//! exactly, and orders stored before prices and order totals were bounded (totals near
//! `i64::MAX`, appended here as events: the domain refuses such an order today) make the revenue
//! saturate instead of failing the query. On both backends.

mod projection_support;

use std::time::Duration;

use domain::DomainEvent as _;
use domain::order::{ItemAdded, OrderConfirmed, OrderEvent, OrderPlaced};
use domain::values::{CustomerName, Email, Money, ProductName, Quantity, Sku};
use domain::{CustomerId, OrderId, ProductId};
use eventstore::{Backend, EventMetadata, EventStore as _, ExpectedVersion, NewEvent};
use orders::command::{CommandContext, CommandService};
use projection_support::*;

fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:?}"))
}

async fn product(
    c: &CommandService,
    ctx: &CommandContext,
    sku: &str,
    cents: i64,
) -> anyhow::Result<ProductId> {
    let name = v(ProductName::parse(&format!("Product {sku}")))?;
    let price = v(Money::from_cents(cents))?;
    let id = c
        .create_product(
            None,
            orders::command::NewProduct::new(v(Sku::parse(sku))?, name, price)
                .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
            ctx,
        )
        .await?
        .id;
    Ok(ProductId::new(id))
}

/// Places an order with `lines` and confirms it: the confirmation's position.
async fn confirmed_order(
    c: &CommandService,
    ctx: &CommandContext,
    customer: CustomerId,
    lines: Vec<(ProductId, Quantity)>,
) -> anyhow::Result<i64> {
    let placed = c
        .place_order_with_lines(None, customer, &lines, ctx)
        .await?;
    Ok(c.confirm(OrderId::new(placed.id), ctx).await?.position)
}

/// A confirmed one-line order as stored before order totals were bounded (the command service
/// refuses it now): its events appended as they were written then. The confirmation's position.
async fn legacy_confirmed_order(
    env: &Env,
    customer: CustomerId,
    product: ProductId,
    unit_cents: i64,
) -> anyhow::Result<i64> {
    let order_id = OrderId::new(uuid::Uuid::now_v7());
    let unit_price = v(Money::from_cents(unit_cents))?;
    let events: Vec<OrderEvent> = vec![
        OrderPlaced {
            order_id,
            customer_id: customer,
            customer_name: v(CustomerName::parse("Big Spender"))?,
        }
        .into(),
        ItemAdded {
            product_id: product,
            sku: v(Sku::parse("LEGACY-1"))?,
            product_name: v(ProductName::parse("Product LEGACY-1"))?,
            unit_price,
            quantity: v(Quantity::new(1))?,
        }
        .into(),
        OrderConfirmed {
            total: unit_price,
            line_count: 1,
            item_count: 1,
        }
        .into(),
    ];
    let events = events
        .iter()
        .map(|e| {
            NewEvent::new(
                e.event_type(),
                e.schema_version(),
                e.to_data(),
                EventMetadata::default(),
            )
        })
        .collect();
    let appended = env
        .store
        .append(
            &format!("order-{order_id}"),
            "order",
            ExpectedVersion::NoStream,
            events,
        )
        .await?;
    Ok(appended.last_position)
}

async fn dashboard_sums_large_orders(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(100)).await?;
    let queries = env.queries(&runner, Duration::from_secs(10));
    let ctx = CommandContext::new();
    let c = &env.commands;
    let customer = CustomerId::new(
        c.register_customer(
            None,
            v(CustomerName::parse("Big Spender"))?,
            v(Email::parse("big@example.com"))?,
            &ctx,
        )
        .await?
        .id,
    );
    let dear = [
        product(c, &ctx, "DEAR-1", Money::MAX_PRICE.cents()).await?,
        product(c, &ctx, "DEAR-2", Money::MAX_PRICE.cents()).await?,
    ];
    // Only possible before prices were bounded at entry.
    let legacy = product(c, &ctx, "LEGACY-1", i64::MAX / 4).await?;
    let most = v(Quantity::new(Quantity::MAX))?;
    let one = v(Quantity::new(1))?;

    // Large but accepted orders sum exactly.
    let mut expected = 0_i128;
    let mut position = 0;
    for _ in 0..3 {
        position =
            confirmed_order(c, &ctx, customer, dear.iter().map(|p| (*p, most)).collect()).await?;
        expected += 2 * i128::from(Money::MAX_PRICE.cents()) * i128::from(Quantity::MAX);
    }
    let stats = queries.dashboard(None, Some(position)).await?.data;
    assert_eq!(i128::from(stats.revenue_cents), expected);
    assert_eq!(i128::from(stats.average_order_cents), expected / 3);

    // Totals that together pass i64::MAX: the revenue saturates, the average stays exact.
    // The domain refuses such an order now.
    let refused = confirmed_order(c, &ctx, customer, vec![(legacy, one)]).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("order total can be at most")),
        "{refused:?}"
    );
    for _ in 0..5 {
        position = legacy_confirmed_order(&env, customer, legacy, i64::MAX / 4).await?;
        expected += i128::from(i64::MAX / 4);
    }
    let stats = queries.dashboard(None, Some(position)).await;
    let stats = match stats {
        Ok(fresh) => fresh.data,
        Err(e) => anyhow::bail!("the dashboard failed on large sums: {e:?}"),
    };
    assert_eq!(stats.revenue_cents, i64::MAX);
    assert_eq!(i128::from(stats.average_order_cents), expected / 8);
    let confirmed = stats
        .orders_by_status
        .iter()
        .find(|s| s.status == domain::order::OrderStatus::Confirmed)
        .map(|s| s.count);
    assert_eq!(confirmed, Some(8));
    // The projections stayed healthy throughout.
    catch_up(&env, &runner).await?;
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dashboard_sums_large_orders() -> anyhow::Result<()> {
    dashboard_sums_large_orders(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dashboard_sums_large_orders() -> anyhow::Result<()> {
    dashboard_sums_large_orders(Backend::Postgres).await
}
