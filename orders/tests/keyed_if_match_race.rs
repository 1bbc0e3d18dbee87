//! Identical requests with the same `Idempotency-Key` and `If-Match` racing each other all get
//! the original result: the version check must not answer a conflict when the stream moved
//! because of the twin itself. With and without the per-stream lock, on both backends.

mod projection_support;

use std::sync::Arc;

use domain::values::{CustomerName, Email, Money, ProductName, Quantity, Sku};
use domain::{CustomerId, OrderId, ProductId};
use eventstore::{Backend, EventStore as _};
use orders::command::{CommandConfig, CommandContext, CommandError, CommandService};
use projection_support::Env;
use tokio::sync::Barrier;

/// Racing twins per command.
const TWINS: usize = 12;

fn v<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// What one twin got: `(version, position, replayed)`.
type Got = Result<(i64, i64, bool), String>;

/// Runs `TWINS` copies of one keyed, If-Match'd command at once and checks they all got the one
/// append's result, and that the stream grew by exactly `events` events.
async fn race<F, Fut>(
    service: &CommandService,
    env: &Env,
    stream: &str,
    events: i64,
    run: F,
) -> anyhow::Result<()>
where
    F: Fn(CommandService) -> Fut,
    Fut: std::future::Future<Output = Got> + Send + 'static,
{
    let before = env.store.stream_version(stream).await?;
    let barrier = Arc::new(Barrier::new(TWINS));
    let mut tasks = Vec::new();
    for _ in 0..TWINS {
        let barrier = barrier.clone();
        let twin = run(service.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            twin.await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await?);
    }
    let ok: Vec<(i64, i64, bool)> = results
        .iter()
        .map(|r| r.clone().map_err(|e| anyhow::anyhow!("a twin failed: {e}")))
        .collect::<anyhow::Result<_>>()?;
    let (version, position, _) = ok[0];
    for (v, p, _) in &ok {
        anyhow::ensure!(
            (*v, *p) == (version, position),
            "twins disagree: {results:?}"
        );
    }
    let written = ok.iter().filter(|(_, _, replayed)| !replayed).count();
    anyhow::ensure!(written <= 1, "{written} twins wrote: {results:?}");
    let after = env.store.stream_version(stream).await?;
    anyhow::ensure!(
        after == before + events && version == after,
        "stream went from {before} to {after}, twins answered {version}"
    );
    Ok(())
}

async fn keyed_if_match_twins_get_the_original(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let ctx = CommandContext::new();
    let c = &env.commands;
    let customer = CustomerId::new(
        c.register_customer(
            None,
            v(CustomerName::parse("Race Person"))?,
            v(Email::parse("race@example.com"))?,
            &ctx,
        )
        .await?
        .id,
    );
    let mut products = Vec::new();
    for i in 0..4 {
        products.push(ProductId::new(
            c.create_product(
                None,
                orders::command::NewProduct::new(
                    v(Sku::parse(&format!("RACE-{i}")))?,
                    v(ProductName::parse(&format!("Race product {i}")))?,
                    v(Money::from_cents(100 + i))?,
                )
                .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
                &ctx,
            )
            .await?
            .id,
        ));
    }
    let locked = CommandConfig::default();
    let unlocked = CommandConfig {
        serialize_per_stream: false,
        ..CommandConfig::default()
    };
    for (round, config) in [locked, unlocked].into_iter().enumerate() {
        let service = CommandService::new((*env.store).clone(), config);
        let placed = c.place_order(None, customer, &ctx).await?;
        let (order, stream) = (OrderId::new(placed.id), placed.stream_id);

        for (step, product) in products.iter().take(2).enumerate() {
            let version = env.store.stream_version(&stream).await?;
            let key = format!("race-{round}-add-{step}");
            let product = *product;
            race(&service, &env, &stream, 1, move |service| {
                let ctx = CommandContext::new()
                    .with_idempotency_key(key.clone())
                    .with_expected_version(version);
                async move {
                    service
                        .add_item(
                            order,
                            product,
                            Quantity::new(2).map_err(|e| e.to_string())?,
                            &ctx,
                        )
                        .await
                        .map(|o| (o.version, o.position, o.replayed))
                        .map_err(|e| format!("{}: {e}", e.code()))
                }
            })
            .await?;
        }

        let version = env.store.stream_version(&stream).await?;
        let key = format!("race-{round}-confirm");
        race(&service, &env, &stream, 1, move |service| {
            let ctx = CommandContext::new()
                .with_idempotency_key(key.clone())
                .with_expected_version(version);
            async move {
                service
                    .confirm(order, &ctx)
                    .await
                    .map(|o| (o.version, o.position, o.replayed))
                    .map_err(|e| format!("{}: {e}", e.code()))
            }
        })
        .await?;

        // A different request at that old version is still a conflict.
        let stale = CommandContext::new()
            .with_idempotency_key(format!("race-{round}-other"))
            .with_expected_version(version);
        let other = service.confirm(order, &stale).await;
        anyhow::ensure!(
            matches!(&other, Err(CommandError::Conflict { .. })),
            "a stale If-Match without a twin must conflict: {other:?}"
        );
    }
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keyed_if_match_twins_get_the_original() -> anyhow::Result<()> {
    keyed_if_match_twins_get_the_original(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keyed_if_match_twins_get_the_original() -> anyhow::Result<()> {
    keyed_if_match_twins_get_the_original(Backend::Postgres).await
}
