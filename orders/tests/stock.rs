//! Stock that is never oversold, and emails that are unique, under real concurrency on both
//! backends (PostgreSQL also with two "instances": two stores with their own writers on one
//! database):
//!
//! * a model-based run: many clients restock, place and confirm, cancel and ship at random;
//!   every product's stock ends equal to the model built from the accepted commands, the read
//!   model agrees, and replaying the log shows available >= 0 at every position;
//! * 64 clients racing to confirm orders for the last 10 units get exactly 10 confirmations;
//! * 32 sign-ups racing for one email address: exactly one wins.

mod projection_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use domain::aggregate::{Aggregate as _, DomainEvent as _};
use domain::product::{Product, ProductEvent};
use domain::requests::ListPage;
use domain::values::{
    Carrier, CustomerName, Email, Money, ProductName, Quantity, Reason, Sku, StockUnits,
    TrackingNumber,
};
use domain::{CustomerId, DomainError, OrderId, ProductId};
use eventstore::{Backend, EventStore as _, SqlEventStore};
use orders::command::{CommandConfig, CommandContext, CommandError, CommandService, NewProduct};
use projection_support::*;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::sync::Barrier;

fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn ctx() -> CommandContext {
    CommandContext::new()
}

/// The command services the clients use: one, or on PostgreSQL a second on its own store (its
/// own writer and connections), as a second server instance would be.
async fn services(
    env: &Env,
    instances: usize,
) -> anyhow::Result<(Vec<CommandService>, Vec<SqlEventStore>)> {
    let mut services = vec![env.commands.clone()];
    let mut extra = Vec::new();
    for _ in 1..instances {
        let store =
            SqlEventStore::open(env.db().clone(), orders::command::upcaster_registry()).await?;
        services.push(CommandService::new(store.clone(), CommandConfig::default()));
        extra.push(store);
    }
    Ok((services, extra))
}

async fn customer(c: &CommandService, n: usize) -> anyhow::Result<CustomerId> {
    Ok(CustomerId::new(
        c.register_customer(
            None,
            v(CustomerName::parse(&format!("Client {n}")))?,
            v(Email::parse(&format!("client{n}@example.com")))?,
            &ctx(),
        )
        .await?
        .id,
    ))
}

async fn product(c: &CommandService, n: usize, stock: u32) -> anyhow::Result<ProductId> {
    let new = NewProduct::new(
        v(Sku::parse(&format!("STOCK-{n}")))?,
        v(ProductName::parse(&format!("Stocked {n}")))?,
        v(Money::from_cents(100))?,
    )
    .with_stock(v(StockUnits::new(stock))?);
    Ok(ProductId::new(
        c.create_product(None, new, &ctx()).await?.id,
    ))
}

/// What the accepted commands say each product's stock is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Model {
    on_hand: i64,
    reserved: i64,
}

/// One client's accepted stock movements.
#[derive(Debug, Default)]
struct Tally {
    received: BTreeMap<ProductId, i64>,
    /// Confirmed orders still holding their reservation, with their lines.
    open: Vec<(OrderId, Vec<(ProductId, i64)>)>,
    shipped: BTreeMap<ProductId, i64>,
    confirmed: usize,
    refused: usize,
}

fn refused_for_stock(e: &CommandError) -> bool {
    matches!(
        e,
        CommandError::Domain(DomainError::InsufficientStock { .. })
    )
}

/// What a client does with a `409` (the command service gave up after its own retries; nothing
/// was written): sends the command again, a bounded number of times. On PostgreSQL the other
/// instance's reservations keep moving the hot products' streams.
async fn client_retry<T, F, Fut>(mut send: F) -> Result<T, CommandError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CommandError>>,
{
    for _ in 0..20 {
        match send().await {
            Err(CommandError::Conflict { .. }) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            other => return other,
        }
    }
    send().await
}

/// One client: `steps` random commands on `products`.
async fn client(
    c: CommandService,
    seed: u64,
    who: CustomerId,
    products: Vec<ProductId>,
    steps: usize,
) -> anyhow::Result<Tally> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    for _ in 0..steps {
        match rng.random_range(0..10) {
            0..=1 => {
                let p = products[rng.random_range(0..products.len())];
                let q = rng.random_range(1..4_u32);
                let units = v(StockUnits::new(q))?;
                client_retry(|| async { c.receive_stock(p, units, &ctx()).await }).await?;
                *tally.received.entry(p).or_default() += i64::from(q);
            }
            2..=6 => {
                let order = OrderId::new(c.place_order(None, who, &ctx()).await?.id);
                let mut lines = Vec::new();
                for _ in 0..rng.random_range(1..=2) {
                    let p = products[rng.random_range(0..products.len())];
                    if lines.iter().any(|(x, _)| *x == p) {
                        continue;
                    }
                    let q = rng.random_range(1..=3_u32);
                    c.add_item(order, p, v(Quantity::new(q))?, &ctx()).await?;
                    lines.push((p, i64::from(q)));
                }
                match client_retry(|| async { c.confirm(order, &ctx()).await }).await {
                    Ok(_) => {
                        tally.confirmed += 1;
                        tally.open.push((order, lines));
                    }
                    Err(e) if refused_for_stock(&e) => tally.refused += 1,
                    Err(e) => return Err(anyhow::Error::new(e).context("confirm")),
                }
            }
            7..=8 if !tally.open.is_empty() => {
                let (order, lines) = tally
                    .open
                    .swap_remove(rng.random_range(0..tally.open.len()));
                if rng.random_bool(0.5) {
                    let reason = v(Reason::parse("changed my mind"))?;
                    client_retry(|| async { c.cancel(order, reason.clone(), &ctx()).await })
                        .await?;
                } else {
                    let (carrier, tracking) = (
                        v(Carrier::parse("DHL"))?,
                        v(TrackingNumber::parse("TRK123"))?,
                    );
                    client_retry(|| async {
                        c.ship(order, carrier.clone(), tracking.clone(), &ctx())
                            .await
                    })
                    .await?;
                    for (p, q) in lines {
                        *tally.shipped.entry(p).or_default() += q;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(tally)
}

async fn random_stock_workload(backend: Backend, instances: usize) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let (services, extra) = services(&env, instances).await?;
    let c = &env.commands;
    let mut initial = BTreeMap::new();
    let mut products = Vec::new();
    for n in 0..4 {
        let stock = [0, 3, 8, 20][n];
        let p = product(c, n, stock).await?;
        initial.insert(p, i64::from(stock));
        products.push(p);
    }
    let clients = 12;
    let mut tasks = Vec::new();
    for n in 0..clients {
        let who = customer(c, n).await?;
        let service = services[n % services.len()].clone();
        tasks.push(tokio::spawn(client(
            service,
            1000 + n as u64,
            who,
            products.clone(),
            30,
        )));
    }
    let mut tallies = Vec::new();
    for t in tasks {
        tallies.push(t.await??);
    }
    let confirmed: usize = tallies.iter().map(|t| t.confirmed).sum();
    let refused: usize = tallies.iter().map(|t| t.refused).sum();
    assert!(confirmed > 0, "some orders were confirmed");
    assert!(
        refused > 0,
        "some confirmations lacked stock (the workload is contended)"
    );

    // The model from the accepted commands.
    let mut model: BTreeMap<ProductId, Model> = products
        .iter()
        .map(|p| {
            (
                *p,
                Model {
                    on_hand: initial[p],
                    reserved: 0,
                },
            )
        })
        .collect();
    for t in &tallies {
        for (p, q) in &t.received {
            model.get_mut(p).expect("known product").on_hand += q;
        }
        for (p, q) in &t.shipped {
            model.get_mut(p).expect("known product").on_hand -= q;
        }
        for (_, lines) in &t.open {
            for (p, q) in lines {
                model.get_mut(p).expect("known product").reserved += q;
            }
        }
    }
    // The aggregates agree with the model.
    for p in &products {
        let state = c.load::<Product>(p.as_uuid()).await?.state;
        let got = Model {
            on_hand: i64::from(state.on_hand),
            reserved: i64::from(state.reserved),
        };
        assert_eq!(got, model[p], "{backend}: product {p} vs the model");
        assert!(got.on_hand >= got.reserved);
    }
    // Replaying the log: available is never negative at any position.
    let mut replayed: BTreeMap<String, domain::product::ProductState> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = env.store.read_all(after, 1000).await?;
        for event in &page {
            after = event.position;
            if event.stream_type != Product::STREAM_TYPE {
                continue;
            }
            let e = ProductEvent::from_data(&event.event_type, &event.data)?;
            let state = replayed.remove(&event.stream_id).unwrap_or_default();
            let state = domain::replay_from::<Product>(state, std::slice::from_ref(&e));
            assert!(
                state.reserved <= state.on_hand,
                "{backend}: oversold at position {}: {state:?}",
                event.position
            );
            replayed.insert(event.stream_id.clone(), state);
        }
        if page.len() < 1000 {
            break;
        }
    }
    // The read model agrees too.
    let runner = env.runner(fast_runner_config(200)).await?;
    let head = catch_up(&env, &runner).await?;
    let queries = env.queries(&runner, Duration::from_secs(5));
    let page = queries
        .products(
            &ListPage {
                cursor: None,
                limit: Some(100),
            },
            Some(head),
        )
        .await?;
    for view in &page.data.products {
        let want = &model[&ProductId::new(view.product_id)];
        assert_eq!(
            (view.on_hand, view.reserved),
            (want.on_hand, want.reserved),
            "{backend}: read model of {}",
            view.sku
        );
        assert_eq!(view.available, want.on_hand - want.reserved);
    }
    runner.shutdown().await;
    for store in extra {
        store.shutdown().await;
    }
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_stock_workload_matches_the_model_sqlite() -> anyhow::Result<()> {
    random_stock_workload(Backend::Sqlite, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_stock_workload_matches_the_model_postgres_two_instances() -> anyhow::Result<()> {
    random_stock_workload(Backend::Postgres, 2).await
}

/// 64 drafts of one unit each, 10 units on hand, 64 confirmations at once: exactly 10 win,
/// every other one is refused for stock (none fails otherwise), and 10 units are reserved.
async fn last_ten_units(backend: Backend, instances: usize) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let (services, extra) = services(&env, instances).await?;
    let c = &env.commands;
    let p = product(c, 0, 10).await?;
    let who = customer(c, 0).await?;
    let mut orders = Vec::new();
    for _ in 0..64 {
        let order = OrderId::new(c.place_order(None, who, &ctx()).await?.id);
        c.add_item(order, p, v(Quantity::new(1))?, &ctx()).await?;
        orders.push(order);
    }
    let barrier = Arc::new(Barrier::new(orders.len()));
    let mut tasks = Vec::new();
    for (n, order) in orders.into_iter().enumerate() {
        let service = services[n % services.len()].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            service.confirm(order, &CommandContext::new()).await
        }));
    }
    let (mut won, mut refused) = (0, 0);
    for t in tasks {
        match t.await? {
            Ok(_) => won += 1,
            Err(e) if refused_for_stock(&e) => refused += 1,
            Err(e) => anyhow::bail!("{backend}: a confirmation failed otherwise: {e}"),
        }
    }
    assert_eq!((won, refused), (10, 54), "{backend}");
    let state = c.load::<Product>(p.as_uuid()).await?.state;
    assert_eq!(
        (state.on_hand, state.reserved, state.available()),
        (10, 10, 0)
    );
    for store in extra {
        store.shutdown().await;
    }
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_clients_race_for_the_last_ten_units_sqlite() -> anyhow::Result<()> {
    last_ten_units(Backend::Sqlite, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_clients_race_for_the_last_ten_units_postgres_two_instances()
-> anyhow::Result<()> {
    last_ten_units(Backend::Postgres, 2).await
}

/// 32 sign-ups with one email at once (two instances on PostgreSQL): one customer, 31
/// `email_taken`. Then the address is freed by a change and can be taken again.
async fn one_email_one_customer(backend: Backend, instances: usize) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let (services, extra) = services(&env, instances).await?;
    let barrier = Arc::new(Barrier::new(32));
    let mut tasks = Vec::new();
    for n in 0..32 {
        let service = services[n % services.len()].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let name = CustomerName::parse(&format!("Racer {n}")).map_err(|e| e.to_string())?;
            let email = Email::parse("Same@Example.com").map_err(|e| e.to_string())?;
            barrier.wait().await;
            service
                .register_customer(None, name, email, &CommandContext::new())
                .await
                .map(|o| o.id)
                .map_err(|e| e.code().to_owned())
        }));
    }
    let mut winners = Vec::new();
    let mut taken = 0;
    for t in tasks {
        match t.await? {
            Ok(id) => winners.push(id),
            Err(code) if code == "email_taken" => taken += 1,
            Err(code) => anyhow::bail!("{backend}: a sign-up failed otherwise: {code}"),
        }
    }
    assert_eq!((winners.len(), taken), (1, 31), "{backend}");
    let c = &env.commands;
    // Case does not make another address.
    let other = c
        .register_customer(
            None,
            v(CustomerName::parse("Other"))?,
            v(Email::parse("same@example.com"))?,
            &ctx(),
        )
        .await;
    assert!(
        matches!(other, Err(CommandError::Domain(DomainError::EmailTaken))),
        "{other:?}"
    );
    // The holder moves to another address: the old one is free again, the new one taken.
    let holder = CustomerId::new(winners[0]);
    c.change_email(holder, v(Email::parse("moved@example.com"))?, &ctx())
        .await?;
    let again = c
        .register_customer(
            None,
            v(CustomerName::parse("Late"))?,
            v(Email::parse("same@example.com"))?,
            &ctx(),
        )
        .await?;
    let late = CustomerId::new(again.id);
    let steal = c
        .change_email(late, v(Email::parse("moved@example.com"))?, &ctx())
        .await;
    assert!(
        matches!(steal, Err(CommandError::Domain(DomainError::EmailTaken))),
        "{steal:?}"
    );
    for store in extra {
        store.shutdown().await;
    }
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sign_ups_for_one_email_one_wins_sqlite() -> anyhow::Result<()> {
    one_email_one_customer(Backend::Sqlite, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sign_ups_for_one_email_one_wins_postgres_two_instances() -> anyhow::Result<()> {
    one_email_one_customer(Backend::Postgres, 2).await
}

/// A database from before emails were tagged: its addresses are taken once the backfill ran
/// (and the backfill is idempotent).
async fn old_addresses_are_taken_after_the_backfill(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    // A registration and a change as an older version stored them: no tags.
    let old = CustomerId::new(uuid::Uuid::now_v7());
    let registered: domain::customer::CustomerEvent = domain::customer::CustomerRegistered {
        customer_id: old,
        name: v(CustomerName::parse("Old Timer"))?,
        email: v(Email::parse("first@example.com"))?,
    }
    .into();
    let changed: domain::customer::CustomerEvent = domain::customer::CustomerEmailChanged {
        email: v(Email::parse("old@example.com"))?,
    }
    .into();
    let events = [registered, changed]
        .iter()
        .map(|e| {
            eventstore::NewEvent::new(
                e.event_type(),
                e.schema_version(),
                e.to_data(),
                eventstore::EventMetadata::default(),
            )
        })
        .collect();
    env.store
        .append(
            &domain::customer::Customer::stream_id(old.as_uuid()),
            domain::customer::Customer::STREAM_TYPE,
            eventstore::ExpectedVersion::NoStream,
            events,
        )
        .await?;
    let c = &env.commands;
    let register = |email: &'static str| async move {
        c.register_customer(
            None,
            v(CustomerName::parse("New"))?,
            v(Email::parse(email))?,
            &ctx(),
        )
        .await
        .map_err(anyhow::Error::new)
    };
    assert_eq!(
        orders::command::unique_email::backfill_tags(&env.store).await?,
        3
    );
    assert_eq!(
        orders::command::unique_email::backfill_tags(&env.store).await?,
        0,
        "idempotent"
    );
    let taken = register("old@example.com").await;
    assert!(
        taken
            .as_ref()
            .is_err_and(|e| e.to_string().contains("another customer")),
        "{backend}: {taken:?}"
    );
    // The address the old customer moved away from is free.
    register("first@example.com").await?;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_addresses_are_taken_after_the_backfill_sqlite() -> anyhow::Result<()> {
    old_addresses_are_taken_after_the_backfill(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_addresses_are_taken_after_the_backfill_postgres() -> anyhow::Result<()> {
    old_addresses_are_taken_after_the_backfill(Backend::Postgres).await
}
