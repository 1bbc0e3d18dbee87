//! The query service: filters, paging, not-found, details, dashboard, activity, read-your-writes,
//! and that queries never touch the event tables.

mod projection_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use domain::order::OrderStatus;
use domain::requests::ListPage;
use domain::values::{
    Carrier, CustomerName, Email, Money, ProductName, Quantity, Reason, Sku, TrackingNumber,
};
use domain::{CustomerId, OrderId, ProductId};
use eventstore::Backend;
use orders::command::CommandContext;
use orders::query::{OrderFilter, QueryError};
use projection_support::*;
use uuid::Uuid;

fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:?}"))
}

async fn queries_answer_from_read_models(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(100)).await?;
    let queries = env.queries(&runner, Duration::from_secs(5));
    let ctx = CommandContext::new();
    let c = &env.commands;

    let ada = CustomerId::new(
        c.register_customer(
            None,
            v(CustomerName::parse("Ada Lovelace"))?,
            v(Email::parse("ada@example.com"))?,
            &ctx,
        )
        .await?
        .id,
    );
    let bob = CustomerId::new(
        c.register_customer(
            None,
            v(CustomerName::parse("Bob Smith"))?,
            v(Email::parse("bob@example.com"))?,
            &ctx,
        )
        .await?
        .id,
    );
    let beans = ProductId::new(
        c.create_product(
            None,
            orders::command::NewProduct::new(
                v(Sku::parse("BEAN-1"))?,
                v(ProductName::parse("Espresso beans"))?,
                v(Money::from_cents(1999))?,
            )
            .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
            &ctx,
        )
        .await?
        .id,
    );
    let tea = ProductId::new(
        c.create_product(
            None,
            orders::command::NewProduct::new(
                v(Sku::parse("TEA-1"))?,
                v(ProductName::parse("Green tea"))?,
                v(Money::from_cents(500))?,
            )
            .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
            &ctx,
        )
        .await?
        .id,
    );

    // 25 orders: 15 for Ada, 10 for Bob; every third confirmed, one shipped, one cancelled.
    let mut placed = Vec::new();
    for i in 0..25 {
        let customer = if i < 15 { ada } else { bob };
        let order = OrderId::new(c.place_order(None, customer, &ctx).await?.id);
        c.add_item(order, beans, v(Quantity::new(2))?, &ctx).await?;
        if i % 2 == 0 {
            c.add_item(order, tea, v(Quantity::new(1))?, &ctx).await?;
        }
        if i % 3 == 0 {
            c.confirm(order, &ctx).await?;
        }
        placed.push((order, customer, i));
    }
    let shipped = placed[0].0;
    c.ship(
        shipped,
        v(Carrier::parse("DHL"))?,
        v(TrackingNumber::parse("TRK123"))?,
        &ctx,
    )
    .await?;
    let cancelled = placed[1].0;
    let last = c
        .cancel(cancelled, v(Reason::parse("changed my mind"))?, &ctx)
        .await?;

    // Paging: newest first, no duplicates, 10 + 10 + 5.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let filter = OrderFilter {
            cursor: cursor.clone(),
            limit: Some(10),
            ..OrderFilter::default()
        };
        let page = queries.list_orders(&filter, Some(last.position)).await?;
        assert!(!page.stale);
        pages.push(page.data.orders.len());
        seen.extend(page.data.orders.iter().map(|o| (o.created_at, o.order_id)));
        cursor = page.data.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, vec![10, 10, 5]);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);
    assert_eq!(
        seen[0].1,
        placed[24].0.as_uuid(),
        "the last placed order comes first"
    );

    // Default and maximum limits.
    let all = queries.list_orders(&OrderFilter::default(), None).await?;
    assert_eq!(all.data.orders.len(), 20);
    let big = OrderFilter {
        limit: Some(1000),
        ..OrderFilter::default()
    };
    assert_eq!(queries.list_orders(&big, None).await?.data.orders.len(), 25);

    // Filters.
    let by_status = OrderFilter {
        status: Some(OrderStatus::Confirmed),
        limit: Some(100),
        ..OrderFilter::default()
    };
    let confirmed = queries.list_orders(&by_status, None).await?.data.orders;
    // 0,3,...,24 confirmed = 9; 0 shipped since; none of them cancelled (1 is not a multiple of 3).
    assert_eq!(confirmed.len(), 8);
    assert!(confirmed.iter().all(|o| o.status == OrderStatus::Confirmed));
    let bobs = OrderFilter {
        customer_id: Some(bob.as_uuid()),
        status: Some(OrderStatus::Draft),
        limit: Some(100),
        ..OrderFilter::default()
    };
    let bob_drafts = queries.list_orders(&bobs, None).await?.data.orders;
    let expected = placed
        .iter()
        .filter(|(_, cu, i)| *cu == bob && i % 3 != 0)
        .count();
    assert_eq!(bob_drafts.len(), expected);
    assert!(
        bob_drafts
            .iter()
            .all(|o| o.customer_name == "Bob Smith" && o.status == OrderStatus::Draft)
    );

    // Bad cursor, unknown ids.
    let bad = OrderFilter {
        cursor: Some("nonsense".into()),
        ..OrderFilter::default()
    };
    assert!(matches!(
        queries.list_orders(&bad, None).await,
        Err(QueryError::InvalidCursor)
    ));
    assert!(matches!(
        queries.get_order(Uuid::now_v7(), None).await,
        Err(QueryError::NotFound {
            entity: "order",
            ..
        })
    ));
    assert!(matches!(
        queries.get_customer(Uuid::now_v7(), None).await,
        Err(QueryError::NotFound { .. })
    ));
    assert!(matches!(
        queries.get_product(Uuid::now_v7(), None).await,
        Err(QueryError::NotFound { .. })
    ));

    // Detail.
    let detail = queries.get_order(shipped.as_uuid(), None).await?.data;
    assert_eq!(detail.summary.status, OrderStatus::Shipped);
    assert_eq!(detail.carrier.as_deref(), Some("DHL"));
    assert_eq!(detail.tracking_number.as_deref(), Some("TRK123"));
    assert_eq!(detail.lines.len(), 2);
    assert_eq!(detail.lines[0].sku, "BEAN-1");
    assert_eq!(detail.lines[0].product_name, "Espresso beans");
    assert_eq!(detail.lines[0].line_total_cents, 3998);
    assert_eq!(detail.summary.total_cents, 4498);
    assert_eq!(detail.summary.item_count, 3);
    let cancelled_detail = queries.get_order(cancelled.as_uuid(), None).await?.data;
    assert_eq!(
        cancelled_detail.cancel_reason.as_deref(),
        Some("changed my mind")
    );

    // Customers, products.
    let customers = queries
        .customers(&ListPage::default(), Some(last.position))
        .await?
        .data
        .customers;
    assert_eq!(
        customers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["Ada Lovelace", "Bob Smith"]
    );
    let products = queries
        .products(&ListPage::default(), Some(last.position))
        .await?
        .data
        .products;
    assert_eq!(
        products.iter().map(|p| p.sku.as_str()).collect::<Vec<_>>(),
        ["BEAN-1", "TEA-1"]
    );
    assert_eq!(
        queries
            .get_product(beans.as_uuid(), Some(last.position))
            .await?
            .data
            .price_cents,
        1999
    );

    // Dashboard.
    let stats = queries.dashboard(None, Some(last.position)).await?.data;
    let count = |s: OrderStatus| {
        stats
            .orders_by_status
            .iter()
            .find(|x| x.status == s)
            .map(|x| x.count)
    };
    assert_eq!(count(OrderStatus::Draft), Some(15));
    assert_eq!(count(OrderStatus::Confirmed), Some(8));
    assert_eq!(count(OrderStatus::Shipped), Some(1));
    assert_eq!(count(OrderStatus::Cancelled), Some(1));
    assert_eq!(count(OrderStatus::Delivered), Some(0));
    // Confirmed or shipped: orders 0,3,...,24 = 9 orders (tea on the even ones).
    let revenue: i64 = placed
        .iter()
        .filter(|(_, _, i)| i % 3 == 0)
        .map(|(_, _, i)| 3998 + if i % 2 == 0 { 500 } else { 0 })
        .sum();
    assert_eq!(stats.revenue_cents, revenue);
    assert_eq!(stats.average_order_cents, revenue / 9);
    assert_eq!(stats.orders_per_minute.len(), 60);
    assert_eq!(stats.orders_per_minute.iter().sum::<i64>(), 25);
    // Beans: 2 per order on 24 non-cancelled orders; tea: 1 on 12 of them (order 1 is odd).
    assert_eq!(stats.top_products.len(), 2);
    assert_eq!(stats.top_products[0].name, "Espresso beans");
    assert_eq!(stats.top_products[0].quantity, 48);
    assert_eq!(stats.top_products[1].quantity, 13);
    // An hour later the per-minute chart is empty.
    let later = chrono::Utc::now() + chrono::Duration::minutes(61);
    let stats = queries.dashboard(Some(later), None).await?.data;
    assert_eq!(stats.orders_per_minute.iter().sum::<i64>(), 0);

    // Activity: newest first, readable.
    let activity = queries.activity(None, Some(last.position)).await?;
    assert_eq!(activity.data[0].position, last.position);
    assert!(
        activity.data[0].text.contains("cancelled: changed my mind"),
        "{}",
        activity.data[0].text
    );
    assert!(
        activity
            .data
            .iter()
            .any(|a| a.text.contains("placed for Bob Smith"))
    );
    assert!(
        activity
            .data
            .iter()
            .any(|a| a.text.starts_with("2 × Espresso beans added to order")
                && a.text.ends_with("(19.99 each)"))
    );
    assert_eq!(queries.activity(Some(5), None).await?.data.len(), 5);

    // A rename reaches the orders (read-your-writes on the command's position).
    let renamed = c
        .rename_customer(ada, v(CustomerName::parse("Ada King"))?, &ctx)
        .await?;
    let detail = queries
        .get_order(placed[0].0.as_uuid(), Some(renamed.position))
        .await?;
    assert!(!detail.stale);
    assert!(detail.position >= renamed.position);
    assert_eq!(detail.data.summary.customer_name, "Ada King");

    // Read-your-writes: a fresh order is visible with its position...
    let fresh = c.place_order(None, bob, &ctx).await?;
    let got = queries.get_order(fresh.id, Some(fresh.position)).await?;
    assert!(!got.stale);
    assert_eq!(got.data.summary.version, fresh.version);
    // ... and an unreachable position answers stale after the bound.
    let short = env.queries(&runner, Duration::from_millis(200));
    let started = Instant::now();
    let page = short
        .list_orders(&OrderFilter::default(), Some(fresh.position + 1_000))
        .await?;
    assert!(page.stale);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(page.position >= fresh.position);
    assert!(!page.data.orders.is_empty());

    // Never the event tables: hide them and ask everything again.
    let head = catch_up(&env, &runner).await?;
    runner.shutdown().await;
    env.store.shutdown().await;
    for table in ["events", "streams", "snapshots"] {
        sqlx::query(&format!("alter table {table} rename to {table}_hidden"))
            .execute(env.db().pool())
            .await?;
    }
    let page = queries
        .list_orders(&OrderFilter::default(), Some(head))
        .await?;
    assert!(!page.stale);
    assert_eq!(page.data.orders.len(), 20);
    queries.get_order(fresh.id, Some(head)).await?;
    queries.customers(&ListPage::default(), Some(head)).await?;
    queries.products(&ListPage::default(), Some(head)).await?;
    queries.get_customer(ada.as_uuid(), None).await?;
    queries.dashboard(None, Some(head)).await?;
    queries.activity(None, Some(head)).await?;
    env.cleanup().await;
    Ok(())
}

/// The customer and product lists are keyset-paged: every row exactly once, in order, however
/// the rows tie on their sort key; a bounded page size; a foreign or forged cursor refused.
async fn customer_and_product_lists_page(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(100)).await?;
    let queries = env.queries(&runner, Duration::from_secs(5));
    let ctx = CommandContext::new();
    let c = &env.commands;
    // Seven customers, three of them named alike (the id breaks the tie).
    let names = ["Eve", "Ada", "Zed", "Ada", "Bob", "Ada", "Cy"];
    let mut last = 0;
    for (i, name) in names.iter().enumerate() {
        last = c
            .register_customer(
                None,
                v(CustomerName::parse(name))?,
                v(Email::parse(&format!("c{i}@example.com")))?,
                &ctx,
            )
            .await?
            .position;
    }
    for i in 0..5 {
        last = c
            .create_product(
                None,
                orders::command::NewProduct::new(
                    v(Sku::parse(&format!("SKU-{}", 5 - i)))?,
                    v(ProductName::parse("Thing"))?,
                    v(Money::from_cents(100))?,
                )
                .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
                &ctx,
            )
            .await?
            .position;
    }
    let mut seen = Vec::new();
    let mut page = ListPage {
        cursor: None,
        limit: Some(2),
    };
    loop {
        let fresh = queries.customers(&page, Some(last)).await?.data;
        assert!(fresh.customers.len() <= 2, "page size holds");
        seen.extend(
            fresh
                .customers
                .iter()
                .map(|c| (c.name.clone(), c.customer_id)),
        );
        match fresh.next_cursor {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    let mut expected = seen.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(seen.len(), names.len(), "every customer once: {seen:?}");
    assert_eq!(seen, expected, "in (name, id) order");

    let mut skus = Vec::new();
    let mut page = ListPage {
        cursor: None,
        limit: Some(3),
    };
    let mut product_cursor = None;
    loop {
        let fresh = queries.products(&page, Some(last)).await?.data;
        skus.extend(fresh.products.iter().map(|p| p.sku.clone()));
        match fresh.next_cursor {
            Some(next) => {
                product_cursor = Some(next.clone());
                page.cursor = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(skus, ["SKU-1", "SKU-2", "SKU-3", "SKU-4", "SKU-5"]);

    // A page size above the bound is clamped, not refused.
    let all = queries
        .customers(
            &ListPage {
                cursor: None,
                limit: Some(10_000),
            },
            None,
        )
        .await?;
    assert_eq!(all.data.customers.len(), names.len());
    for bad in [Some("nothex".to_owned()), product_cursor] {
        let refused = queries
            .customers(
                &ListPage {
                    cursor: bad.clone(),
                    limit: None,
                },
                None,
            )
            .await;
        assert!(
            matches!(refused, Err(QueryError::InvalidCursor)),
            "{bad:?}: {refused:?}"
        );
    }
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_and_product_lists_page_sqlite() -> anyhow::Result<()> {
    customer_and_product_lists_page(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_and_product_lists_page_postgres() -> anyhow::Result<()> {
    customer_and_product_lists_page(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_answer_from_read_models_sqlite() -> anyhow::Result<()> {
    queries_answer_from_read_models(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_answer_from_read_models_postgres() -> anyhow::Result<()> {
    queries_answer_from_read_models(Backend::Postgres).await
}
