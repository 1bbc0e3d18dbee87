//! An event the upcaster refuses (issue 16 item 5): it becomes a dead letter of each projection
//! that reads it, which an operator can skip; the projections that do not handle it and the
//! commands on other streams keep going; the stream's event list answers an error naming it
//! (`event_unreadable`), not a bare internal error. Both backends.
//!
//! The same for a sealed personal field that does not open (copied from another event): the
//! events around it in the batch are opened and applied, it is a dead letter of the projection
//! that reads it.

mod projection_support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use eventstore::projection::ProjectionState;
use eventstore::testing::raw_append;
use eventstore::{Backend, EventMetadata};
use orders::application::{Application, NoMetrics};
use orders::relay::{Relay, RelayConfig};
use projection_support::*;
use uuid::Uuid;

async fn unreadable_event(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let runner = env.runner(fast_runner_config(20)).await?;
    let mut world = World::default();
    random_workload(&env.commands, 7, &mut world, 40).await?;
    catch_up(&env, &runner).await?;

    // An ItemAdded v1 whose price the domain's v1 -> v2 upcaster refuses, on an order stream
    // the workload does not touch.
    let stream = format!("order-{}", Uuid::now_v7());
    let bad_id = Uuid::now_v7();
    let mut conn = env.db().pool().acquire().await?;
    let bad_at = raw_append(
        &mut conn,
        backend,
        &stream,
        "order",
        bad_id,
        "ItemAdded",
        1,
        &serde_json::json!({ "unit_price": "not a price" }),
        &EventMetadata::default(),
    )
    .await?;
    drop(conn);
    // Commands on other streams keep working.
    random_workload(&env.commands, 8, &mut world, 40).await?;
    let head = env.head().await?;
    ensure!(head > bad_at);

    // Every projection that handles order events holds it as a dead letter; the others go on.
    let readers = ["orders", "dashboard"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let faulted = readers.iter().all(|n| {
            runner
                .status_of(n)
                .is_ok_and(|s| s.state == ProjectionState::Faulted)
        });
        let others = ["customers", "products"]
            .iter()
            .all(|n| runner.checkpoint(n).is_ok_and(|c| c >= head));
        if faulted && others {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "expected {readers:?} faulted and customers/products at {head}: {:#?}",
            runner.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for name in readers {
        let status = runner.status_of(name)?;
        let fault = status.fault.context("faulted with a fault")?;
        assert_eq!(fault.position, bad_at, "{name}");
        assert_eq!(fault.event_id, bad_id, "{name}");
        assert_eq!(fault.event_type, "ItemAdded", "{name}");
        assert!(
            fault.error.contains("not a price"),
            "{name}: {}",
            fault.error
        );
        assert_eq!(status.checkpoint, bad_at - 1, "{name}");
    }

    // The stream's event list names the event it cannot read.
    let relay = Arc::new(Relay::start((*env.store).clone(), RelayConfig::default()));
    let app = Application::new(
        env.commands.clone(),
        env.queries(&runner, Duration::from_millis(100)),
        runner.clone(),
        relay,
        Arc::new(NoMetrics),
    );
    let version: i64 = sqlx::query_scalar("select version from events where position = $1")
        .bind(bad_at)
        .fetch_one(env.db().pool())
        .await?;
    let admin =
        orders::application::RequestContext::acting_as(orders::identity::Principal::system("test"));
    match app.stream_events(&admin, &stream, None, None).await {
        Err(e) => {
            assert_eq!(e.code, "event_unreadable", "{e:?}");
            assert!(
                e.message
                    .contains(&format!("version {version} of stream {stream}")),
                "names the event: {}",
                e.message
            );
        }
        Ok(events) => panic!("an unreadable stream answered {} events", events.len()),
    }

    // Skipped by an operator, the projections carry on.
    for name in readers {
        runner
            .skip(name, "test: refused by the upcaster", "tester")
            .await?;
        ensure!(
            runner.wait_for(name, head, Duration::from_secs(60)).await?,
            "{name} stuck after the skip: {:#?}",
            runner.status()
        );
    }
    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

async fn sealed_field_that_does_not_open(backend: Backend) -> anyhow::Result<()> {
    let env = Env::new(backend).await?;
    let keys = orders::personal_data_keys(
        env.db().clone(),
        eventstore::personal_data::MasterKey::generate(),
    );
    ensure!(
        env.store.attach_key_ring(keys),
        "a key ring was attached before"
    );
    let names = ["Ada Lovelace", "Grace Hopper", "Alan Turing"];
    let mut ids = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let out = env
            .commands
            .register_customer(
                None,
                domain::values::CustomerName::parse(name).map_err(|e| anyhow::anyhow!("{e:?}"))?,
                domain::values::Email::parse(&format!("sealed{n}@example.com"))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?,
                &orders::command::CommandContext::new(),
            )
            .await?;
        ids.push(out.id);
    }
    // The middle customer's event gets the first one's sealed fields: they were sealed for
    // another event and do not open in this one.
    let event_of = |id: Uuid| {
        let pool = env.db().pool().clone();
        async move {
            let row: (i64, String) = sqlx::query_as(
                "select position, cast(data as text) from events where stream_id = $1",
            )
            .bind(format!("customer-{id}"))
            .fetch_one(&pool)
            .await?;
            anyhow::Ok(row)
        }
    };
    let (_, first_data) = event_of(ids[0]).await?;
    ensure!(first_data.contains("$sealed"), "not sealed: {first_data}");
    let (bad_at, _) = event_of(ids[1]).await?;
    let update = match backend {
        Backend::Sqlite => "update events set data = $1 where position = $2",
        Backend::Postgres => "update events set data = cast($1 as jsonb) where position = $2",
    };
    sqlx::query(update)
        .bind(&first_data)
        .bind(bad_at)
        .execute(env.db().pool())
        .await?;

    let runner = env.runner(fast_runner_config(20)).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while runner.status_of("customers")?.state != ProjectionState::Faulted {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "customers not faulted: {:#?}",
            runner.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = runner.status_of("customers")?;
    let fault = status.fault.context("faulted with a fault")?;
    assert_eq!(fault.position, bad_at);
    assert!(fault.error.contains("cannot be read"), "{}", fault.error);
    assert_eq!(status.checkpoint, bad_at - 1);

    let queries = env.queries(&runner, Duration::from_millis(100));
    let first = queries.get_customer(ids[0], None).await?.data;
    assert_eq!(first.name, names[0], "the event before it, opened");
    runner
        .skip("customers", "test: does not open", "tester")
        .await?;
    let head = env.head().await?;
    ensure!(
        runner
            .wait_for("customers", head, Duration::from_secs(60))
            .await?
    );
    let third = queries.get_customer(ids[2], None).await?.data;
    assert_eq!(third.name, names[2], "the event after it, opened");
    assert!(queries.get_customer(ids[1], None).await.is_err(), "skipped");

    runner.shutdown().await;
    env.cleanup().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_field_that_does_not_open_sqlite() -> anyhow::Result<()> {
    sealed_field_that_does_not_open(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_field_that_does_not_open_postgres() -> anyhow::Result<()> {
    sealed_field_that_does_not_open(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_event_sqlite() -> anyhow::Result<()> {
    unreadable_event(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_event_postgres() -> anyhow::Result<()> {
    unreadable_event(Backend::Postgres).await
}
