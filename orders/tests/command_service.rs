//! The command service end to end, on SQLite (a temp file) and PostgreSQL (a fresh database
//! per test, see `eventstore::testing`).

use std::sync::Arc;

use domain::customer::Customer;
use domain::order::{Order, OrderEvent, OrderStatus};
use domain::product::Product;
use domain::values::{
    Carrier, CustomerName, Email, Money, ProductName, Quantity, Reason, Sku, TrackingNumber,
};
use domain::{CustomerId, DomainEvent as _, OrderId, ProductId};
use eventstore::testing::{TestDb, raw_append};
use eventstore::{Backend, Db, EventMetadata, EventStore, ExpectedVersion, NewEvent};
use orders::command::{
    CommandConfig, CommandContext, CommandError, CommandOutcome, CommandService,
};
use serde_json::json;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Harness

struct Env {
    test_db: TestDb,
    service: CommandService,
}

impl Env {
    async fn new(backend: Backend) -> Self {
        let test_db = TestDb::new(backend).await.expect("test database");
        let service = CommandService::open(test_db.db().clone(), CommandConfig::default())
            .await
            .expect("command service");
        Self { test_db, service }
    }

    async fn finish(self) {
        self.service.store().shutdown().await;
        self.test_db.cleanup().await;
    }

    async fn version(&self, stream: &str) -> i64 {
        self.service.store().stream_version(stream).await.unwrap()
    }

    async fn head(&self) -> i64 {
        self.service.store().head_position().await.unwrap()
    }

    async fn customer(&self, name: &str) -> CustomerId {
        let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
        let outcome = self
            .service
            .register_customer(
                None,
                CustomerName::parse(name).unwrap(),
                Email::parse(&email).unwrap(),
                &ctx(),
            )
            .await
            .unwrap();
        CustomerId::new(outcome.id)
    }

    async fn product(&self, sku: &str, cents: i64) -> ProductId {
        let outcome = self
            .service
            .create_product(
                None,
                orders::command::NewProduct::new(
                    Sku::parse(sku).unwrap(),
                    ProductName::parse(&format!("Product {sku}")).unwrap(),
                    money(cents),
                )
                .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
                &ctx(),
            )
            .await
            .unwrap();
        ProductId::new(outcome.id)
    }

    async fn order(&self, customer: CustomerId) -> OrderId {
        let outcome = self
            .service
            .place_order(None, customer, &ctx())
            .await
            .unwrap();
        OrderId::new(outcome.id)
    }

    async fn order_state(&self, id: OrderId) -> domain::order::OrderState {
        self.service
            .load::<Order>(id.as_uuid())
            .await
            .unwrap()
            .state
    }
}

fn ctx() -> CommandContext {
    CommandContext::for_user("tester")
}

fn money(cents: i64) -> Money {
    Money::from_cents(cents).unwrap()
}

fn qty(n: u32) -> Quantity {
    Quantity::new(n).unwrap()
}

fn order_stream(id: OrderId) -> String {
    format!("order-{id}")
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(eventstore::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(eventstore::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    happy_paths,
    cross_aggregate_rules,
    rule_failure_writes_nothing,
    concurrent_adds_retry,
    concurrent_adds_with_expected_version,
    idempotency_keys,
    idempotency_twins_race,
    idempotency_recovery_checks_the_request,
    large_order_loads_from_snapshot,
    snapshot_schema_version_bump,
    metadata_on_events,
    upcasting_end_to_end,
    seed_creates_every_status,
    place_with_lines_is_atomic_and_idempotent,
);

// ---------------------------------------------------------------------------------------------
// Tests

async fn happy_paths(backend: Backend) {
    let env = Env::new(backend).await;
    let s = &env.service;

    // Customers.
    let ada = env.customer("Ada Lovelace").await;
    let renamed = s
        .rename_customer(ada, CustomerName::parse("Ada King").unwrap(), &ctx())
        .await
        .unwrap();
    assert_eq!(renamed.version, 2);
    let changed = s
        .change_email(ada, Email::parse("ada@king.example").unwrap(), &ctx())
        .await
        .unwrap();
    assert_eq!(changed.version, 3);
    let customer = s.load::<Customer>(ada.as_uuid()).await.unwrap();
    assert_eq!(customer.version, 3);
    assert_eq!(customer.state.name.unwrap().as_str(), "Ada King");
    assert_eq!(customer.state.email.unwrap().as_str(), "ada@king.example");

    // Products (each created with stock: created + received are versions 1 and 2).
    let keyboard = env.product("KB-1", 8999).await;
    let mouse = env.product("MS-1", 4950).await;
    let old = env.product("OLD-1", 100).await;
    assert_eq!(
        s.reprice(keyboard, money(7999), &ctx())
            .await
            .unwrap()
            .version,
        3
    );
    let renamed = s
        .rename_product(keyboard, ProductName::parse("Keyboard").unwrap(), &ctx())
        .await
        .unwrap();
    assert_eq!(renamed.version, 4);
    assert_eq!(s.discontinue(old, &ctx()).await.unwrap().version, 3);
    let product = s.load::<Product>(keyboard.as_uuid()).await.unwrap().state;
    assert_eq!(product.price, money(7999));
    assert_eq!(product.name.unwrap().as_str(), "Keyboard");
    assert!(
        s.load::<Product>(old.as_uuid())
            .await
            .unwrap()
            .state
            .discontinued
    );

    // An order through its whole life.
    let placed = s.place_order(None, ada, &ctx()).await.unwrap();
    assert_eq!((placed.version, placed.events.len()), (1, 1));
    assert!(placed.position > 0);
    let order = OrderId::new(placed.id);
    assert_eq!(placed.stream_id, order_stream(order));
    let added = s.add_item(order, keyboard, qty(2), &ctx()).await.unwrap();
    assert_eq!(added.version, 2);
    assert!(added.position > placed.position);
    assert!(matches!(added.events[..], [OrderEvent::ItemAdded(_)]));
    s.add_item(order, mouse, qty(1), &ctx()).await.unwrap();
    s.change_quantity(order, keyboard, qty(3), &ctx())
        .await
        .unwrap();
    s.remove_item(order, mouse, &ctx()).await.unwrap();
    let state = env.order_state(order).await;
    assert_eq!(state.customer_name.unwrap().as_str(), "Ada King");
    assert_eq!(state.lines.len(), 1);
    assert_eq!(state.lines[0].quantity, qty(3));
    assert_eq!(state.total, money(3 * 7999));
    assert_eq!(s.confirm(order, &ctx()).await.unwrap().version, 6);
    let shipped = s
        .ship(
            order,
            Carrier::parse("DHL").unwrap(),
            TrackingNumber::parse("JD0123").unwrap(),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(shipped.version, 7);
    let delivered = s.deliver(order, &ctx()).await.unwrap();
    assert_eq!(delivered.version, 8);
    assert_eq!(env.order_state(order).await.status, OrderStatus::Delivered);

    // Cancel.
    let other = env.order(ada).await;
    let cancelled = s
        .cancel(other, Reason::parse("Changed my mind").unwrap(), &ctx())
        .await
        .unwrap();
    assert_eq!(cancelled.version, 2);
    let state = env.order_state(other).await;
    assert_eq!(state.status, OrderStatus::Cancelled);
    assert_eq!(state.cancel_reason.unwrap().as_str(), "Changed my mind");

    // The generic entry point.
    let outcome = s
        .execute::<Customer>(
            ada.as_uuid(),
            domain::customer::CustomerCommand::Rename {
                name: CustomerName::parse("Ada").unwrap(),
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.version, 4);
    env.finish().await;
}

async fn cross_aggregate_rules(backend: Backend) {
    let env = Env::new(backend).await;
    let s = &env.service;
    let customer = env.customer("Grace Hopper").await;
    let product = env.product("SSD-1", 7990).await;

    // Unknown customer.
    let nobody = CustomerId::new(Uuid::now_v7());
    let err = s.place_order(None, nobody, &ctx()).await.unwrap_err();
    assert!(
        matches!(err, CommandError::NotFound { kind: "customer", id } if id == nobody.as_uuid()),
        "{err:?}"
    );
    assert_eq!(err.code(), "customer_not_found");

    let order = env.order(customer).await;

    // Unknown product.
    let nothing = ProductId::new(Uuid::now_v7());
    let err = s
        .add_item(order, nothing, qty(1), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CommandError::NotFound {
                kind: "product",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "product_not_found");

    // Discontinued product.
    let gone = env.product("GONE-1", 500).await;
    s.discontinue(gone, &ctx()).await.unwrap();
    let err = s.add_item(order, gone, qty(1), &ctx()).await.unwrap_err();
    assert_eq!(err.code(), "product_discontinued");

    // The price recorded is the product's price at that moment...
    s.add_item(order, product, qty(2), &ctx()).await.unwrap();
    s.reprice(product, money(6990), &ctx()).await.unwrap();
    let state = env.order_state(order).await;
    assert_eq!(state.lines[0].unit_price, money(7990));
    assert_eq!(state.total, money(2 * 7990));

    // ... and after a reprice the next add uses the new price.
    let second = env.order(customer).await;
    s.add_item(second, product, qty(1), &ctx()).await.unwrap();
    let state = env.order_state(second).await;
    assert_eq!(state.lines[0].unit_price, money(6990));
    assert_eq!(state.lines[0].sku.as_str(), "SSD-1");
    assert_eq!(state.lines[0].product_name.as_str(), "Product SSD-1");

    assert_eq!(env.version(&order_stream(order)).await, 2);
    env.finish().await;
}

async fn rule_failure_writes_nothing(backend: Backend) {
    let env = Env::new(backend).await;
    let s = &env.service;
    let customer = env.customer("Alan Turing").await;
    let order = env.order(customer).await;
    let stream = order_stream(order);
    let head = env.head().await;

    let err = s.confirm(order, &ctx()).await.unwrap_err();
    assert!(matches!(err, CommandError::Domain(_)), "{err:?}");
    assert_eq!(err.code(), "order_has_no_items");
    assert!(err.is_client_error());
    let err = s.deliver(order, &ctx()).await.unwrap_err();
    assert_eq!(err.code(), "order_not_shipped");
    let err = s
        .place_order(Some(order), customer, &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "order_already_exists");
    assert_eq!(env.version(&stream).await, 1);

    // A command on an order that does not exist.
    let missing = OrderId::new(Uuid::now_v7());
    let err = s.confirm(missing, &ctx()).await.unwrap_err();
    assert!(
        matches!(err, CommandError::NotFound { kind: "order", .. }),
        "{err:?}"
    );
    assert_eq!(env.version(&order_stream(missing)).await, 0);

    assert_eq!(env.head().await, head, "nothing was appended");
    env.finish().await;
}

/// 16 tasks add different items to one order at once, without expected versions: all succeed,
/// versions contiguous. Within one service they queue on the stream's lock; across services
/// (as across processes) they race, and the losers reload, decide again and retry.
async fn concurrent_adds_retry(backend: Backend) {
    let env = Env::new(backend).await;
    let customer = env.customer("Margaret Hamilton").await;
    let mut products = Vec::new();
    for i in 0..16 {
        products.push(env.product(&format!("P-{i}"), 100 + i).await);
    }

    // One service, 16 tasks at once.
    let order = env.order(customer).await;
    let tasks: Vec<_> = products
        .iter()
        .map(|product| {
            let service = env.service.clone();
            let product = *product;
            tokio::spawn(async move { service.add_item(order, product, qty(1), &ctx()).await })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap().expect("every add succeeds");
        versions.push(outcome.version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=17).collect::<Vec<i64>>());
    assert_all_lines(&env, order, &products).await;

    // Four services on one store (four processes, in effect), four racers per round.
    let services: Vec<CommandService> = (0..4)
        .map(|_| CommandService::new(env.service.store().clone(), CommandConfig::default()))
        .collect();
    let order = env.order(customer).await;
    let mut versions = Vec::new();
    let mut retried = 0;
    for round in products.chunks(services.len()) {
        let barrier = Arc::new(tokio::sync::Barrier::new(round.len()));
        let tasks: Vec<_> = round
            .iter()
            .zip(&services)
            .map(|(product, service)| {
                let service = service.clone();
                let barrier = barrier.clone();
                let product = *product;
                tokio::spawn(async move {
                    barrier.wait().await;
                    service.add_item(order, product, qty(1), &ctx()).await
                })
            })
            .collect();
        for task in tasks {
            let outcome = task
                .await
                .unwrap()
                .expect("every add succeeds after retries");
            versions.push(outcome.version);
            if outcome.attempts > 1 {
                retried += 1;
            }
        }
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=17).collect::<Vec<i64>>());
    assert!(retried > 0, "the services raced and retried");
    assert_all_lines(&env, order, &products).await;
    env.finish().await;
}

/// Every product has a line and the stream's versions are 1..=n+1 without gaps.
async fn assert_all_lines(env: &Env, order: OrderId, products: &[ProductId]) {
    let state = env.order_state(order).await;
    assert_eq!(state.lines.len(), products.len());
    for product in products {
        assert!(state.line(*product).is_some());
    }
    let events = env
        .service
        .store()
        .read_stream(&order_stream(order), 1, 1000)
        .await
        .unwrap();
    let stored: Vec<i64> = events.iter().map(|e| e.version).collect();
    let expected = i64::try_from(products.len()).unwrap() + 1;
    assert_eq!(stored, (1..=expected).collect::<Vec<i64>>());
}

async fn concurrent_adds_with_expected_version(backend: Backend) {
    let env = Env::new(backend).await;
    let customer = env.customer("Barbara Liskov").await;
    let order = env.order(customer).await;
    let mut products = Vec::new();
    for i in 0..16 {
        products.push(env.product(&format!("Q-{i}"), 100 + i).await);
    }
    let service = Arc::new(env.service.clone());
    let mut remaining = products.clone();
    for round in 0..4_i64 {
        let seen = 1 + round;
        let tasks: Vec<_> = remaining
            .iter()
            .map(|product| {
                let service = service.clone();
                let product = *product;
                tokio::spawn(async move {
                    let ctx = ctx().with_expected_version(seen);
                    (
                        product,
                        service.add_item(order, product, qty(1), &ctx).await,
                    )
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (product, result) = task.await.unwrap();
            match result {
                Ok(outcome) => {
                    assert_eq!(outcome.version, seen + 1);
                    winners.push(product);
                }
                Err(CommandError::Conflict {
                    expected, current, ..
                }) => {
                    assert_eq!(expected, seen);
                    assert_eq!(
                        current,
                        seen + 1,
                        "the conflict reports the current version"
                    );
                }
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one wins round {round}");
        remaining.retain(|p| !winners.contains(p));
        assert_eq!(env.version(&order_stream(order)).await, seen + 1);
    }
    assert_eq!(env.order_state(order).await.lines.len(), 4);
    env.finish().await;
}

async fn idempotency_keys(backend: Backend) {
    let env = Env::new(backend).await;
    let customer = env.customer("Edsger Dijkstra").await;
    let product = env.product("LAMP-1", 4599).await;
    let order = env.order(customer).await;
    let stream = order_stream(order);

    let keyed = || ctx().with_idempotency_key("add-lamp-1");
    let first = env
        .service
        .add_item(order, product, qty(2), &keyed())
        .await
        .unwrap();
    assert!(!first.replayed);
    let head = env.head().await;

    // Replays return the first result and write nothing, even after the price changed.
    env.service
        .reprice(product, money(4999), &ctx())
        .await
        .unwrap();
    let head = head + 1;
    let again = env
        .service
        .add_item(order, product, qty(2), &keyed())
        .await
        .unwrap();
    assert!(again.replayed);
    assert_same_outcome(&first, &again);
    assert_eq!(env.version(&stream).await, 2);
    assert_eq!(env.head().await, head);

    // The same key with another command is rejected.
    let err = env
        .service
        .add_item(order, product, qty(3), &keyed())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CommandError::IdempotencyKeyReused { .. }),
        "{err:?}"
    );
    let err = env.service.confirm(order, &keyed()).await.unwrap_err();
    assert_eq!(err.code(), "idempotency_key_reused");

    // A keyed place without id: the retry names the same order.
    let placed = env
        .service
        .place_order(None, customer, &ctx().with_idempotency_key("place-1"))
        .await
        .unwrap();
    let replaced = env
        .service
        .place_order(None, customer, &ctx().with_idempotency_key("place-1"))
        .await
        .unwrap();
    assert_eq!(placed.id, replaced.id);
    assert!(replaced.replayed);
    let head = head + 1;

    // Keys survive a restart: close the store and the pool, open both again.
    env.service.store().shutdown().await;
    env.test_db.db().close().await;
    let db = Db::connect(env.test_db.db().url()).await.unwrap();
    db.migrate().await.unwrap();
    let reopened = CommandService::open(db.clone(), CommandConfig::default())
        .await
        .unwrap();
    let after = reopened
        .add_item(order, product, qty(2), &keyed())
        .await
        .unwrap();
    assert!(after.replayed);
    assert_same_outcome(&first, &after);
    let err = reopened
        .add_item(order, product, qty(5), &keyed())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "idempotency_key_reused");
    assert_eq!(reopened.store().stream_version(&stream).await.unwrap(), 2);
    assert_eq!(reopened.store().head_position().await.unwrap(), head);
    reopened.store().shutdown().await;
    db.close().await;
    env.test_db.cleanup().await;
}

fn assert_same_outcome(a: &CommandOutcome<OrderEvent>, b: &CommandOutcome<OrderEvent>) {
    assert_eq!(a.id, b.id);
    assert_eq!(a.stream_id, b.stream_id);
    assert_eq!(a.version, b.version);
    assert_eq!(a.position, b.position);
    assert_eq!(a.events, b.events);
}

/// Two requests with the same key at once: both get the one result, one event is written.
async fn idempotency_twins_race(backend: Backend) {
    let env = Env::new(backend).await;
    let customer = env.customer("Donald Knuth").await;
    let order = env.order(customer).await;
    let mut products = Vec::new();
    for i in 0..8 {
        products.push(env.product(&format!("T-{i}"), 1000 + i).await);
    }
    // Every product's add is sent twice with the same key (different command ids), through
    // two services so that the twins really race.
    let services = [
        env.service.clone(),
        CommandService::new(env.service.store().clone(), CommandConfig::default()),
    ];
    let tasks: Vec<_> = products
        .iter()
        .flat_map(|p| [(*p, 0), (*p, 1)])
        .map(|(product, twin)| {
            let service = services[twin].clone();
            tokio::spawn(async move {
                let ctx = ctx().with_idempotency_key(format!("twin-{product}"));
                (
                    product,
                    service.add_item(order, product, qty(1), &ctx).await,
                )
            })
        })
        .collect();
    let mut results: Vec<(ProductId, CommandOutcome<OrderEvent>)> = Vec::new();
    for task in tasks {
        let (product, result) = task.await.unwrap();
        results.push((product, result.expect("both twins succeed")));
    }
    for product in &products {
        let twins: Vec<_> = results.iter().filter(|(p, _)| p == product).collect();
        assert_eq!(twins.len(), 2);
        assert_same_outcome(&twins[0].1, &twins[1].1);
    }
    assert_eq!(env.version(&order_stream(order)).await, 9);
    assert_eq!(env.order_state(order).await.lines.len(), 8);
    env.finish().await;
}

async fn large_order_loads_from_snapshot(backend: Backend) {
    let env = Env::new(backend).await;
    let s = &env.service;
    let customer = env.customer("Frances Allen").await;
    let product = env.product("BIG-1", 100).await;
    let order = env.order(customer).await;
    s.add_item(order, product, qty(1), &ctx()).await.unwrap();
    let stream = order_stream(order);

    // 9,998 quantity changes appended around the service, in chunks.
    let mut quantity = 1;
    let mut version = 2;
    while version < 10_000 {
        let n = (10_000 - version).min(1000);
        let events: Vec<NewEvent> = (0..n)
            .map(|_| {
                quantity = quantity % 100 + 1;
                let event = OrderEvent::from(domain::order::ItemQuantityChanged {
                    product_id: product,
                    quantity: qty(quantity),
                });
                NewEvent::new(
                    event.event_type(),
                    event.schema_version(),
                    event.to_data(),
                    EventMetadata::default(),
                )
            })
            .collect();
        let result = s
            .store()
            .append(&stream, "order", ExpectedVersion::Exact(version), events)
            .await
            .unwrap();
        version = result.last_version;
    }
    assert_eq!(env.version(&stream).await, 10_000);

    // The first load reads everything and writes a snapshot...
    let first = s.load::<Order>(order.as_uuid()).await.unwrap();
    assert_eq!(first.version, 10_000);
    assert_eq!(first.stats.events_read, 10_000);
    assert!(first.stats.snapshot_written);
    assert_eq!(first.state.lines[0].quantity, qty(quantity));

    // ... and commands through the service keep it fresh (every 50 events).
    for _ in 0..60 {
        quantity = quantity % 100 + 1;
        s.change_quantity(order, product, qty(quantity), &ctx())
            .await
            .unwrap();
    }
    let loaded = s.load::<Order>(order.as_uuid()).await.unwrap();
    assert_eq!(loaded.version, 10_060);
    assert!(
        loaded.stats.events_read <= 50,
        "read {} events",
        loaded.stats.events_read
    );
    assert_eq!(loaded.stats.snapshot_version, Some(10_050));
    assert_eq!(loaded.state.lines[0].quantity, qty(quantity));
    assert_eq!(loaded.state.total, money(100 * i64::from(quantity)));
    env.finish().await;
}

async fn snapshot_schema_version_bump(backend: Backend) {
    let env = Env::new(backend).await;
    let s = &env.service;
    let customer = env.customer("Ken Thompson").await;
    let product = env.product("SNAP-1", 250).await;
    let order = env.order(customer).await;
    s.add_item(order, product, qty(1), &ctx()).await.unwrap();
    for i in 0..118_u32 {
        s.change_quantity(order, product, qty(i % 50 + 2), &ctx())
            .await
            .unwrap();
    }
    let id = order.as_uuid();
    let current = s.load::<Order>(id).await.unwrap();
    assert_eq!(current.version, 120);
    assert_eq!(current.stats.snapshot_version, Some(100));
    assert_eq!(current.stats.events_read, 20);

    // Code with a bumped snapshot version ignores the old snapshot and writes its own.
    let bumped = <Order as domain::Aggregate>::SNAPSHOT_VERSION + 1;
    let fresh = s
        .load_with_snapshot_version::<Order>(id, bumped)
        .await
        .unwrap();
    assert_eq!(fresh.stats.snapshot_version, None);
    assert_eq!(fresh.stats.events_read, 120);
    assert!(fresh.stats.snapshot_written);
    assert_eq!(fresh.state, current.state);
    let again = s
        .load_with_snapshot_version::<Order>(id, bumped)
        .await
        .unwrap();
    assert_eq!(again.stats.snapshot_version, Some(120));
    assert_eq!(again.stats.events_read, 0);
    assert_eq!(again.state, current.state);
    env.finish().await;
}

async fn metadata_on_events(backend: Backend) {
    let env = Env::new(backend).await;
    let customer = env.customer("Radia Perlman").await;
    let correlation = Uuid::now_v7();
    let ctx = CommandContext::for_user("radia").with_correlation_id(correlation);
    let placed = env.service.place_order(None, customer, &ctx).await.unwrap();
    let events = env
        .service
        .store()
        .read_stream(&placed.stream_id, 1, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let metadata = &events[0].metadata;
    assert_eq!(metadata.correlation_id, Some(correlation));
    assert_eq!(metadata.causation_id, Some(ctx.command_id));
    assert_eq!(metadata.user_id.as_deref(), Some("radia"));
    assert_eq!(events[0].event_type, "OrderPlaced");

    // A generated correlation id is stored too, and read_correlated finds the events.
    let other = CommandContext::new();
    let outcome = env
        .service
        .confirm(OrderId::new(placed.id), &other)
        .await
        .unwrap_err();
    assert_eq!(outcome.code(), "order_has_no_items");
    let correlated = env
        .service
        .store()
        .read_correlated(correlation, 10)
        .await
        .unwrap();
    assert_eq!(correlated.len(), 1);
    env.finish().await;
}

async fn upcasting_end_to_end(backend: Backend) {
    let env = Env::new(backend).await;
    let customer = env.customer("Ada Lovelace").await;
    let order = env.order(customer).await;
    let stream = order_stream(order);
    let product = ProductId::new(Uuid::now_v7());

    // A v1 ItemAdded row, as older code wrote it: the price as a decimal string.
    let data = json!({
        "product_id": product,
        "sku": "OLD-SKU-1",
        "product_name": "Legacy Widget",
        "unit_price": "19.99",
        "quantity": 3,
    });
    let mut tx = env.test_db.db().pool().begin().await.unwrap();
    raw_append(
        &mut tx,
        env.test_db.backend(),
        &stream,
        "order",
        Uuid::now_v7(),
        "ItemAdded",
        1,
        &data,
        &EventMetadata::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let loaded = env.service.load::<Order>(order.as_uuid()).await.unwrap();
    assert_eq!(loaded.version, 2);
    let line = loaded.state.line(product).expect("the v1 line");
    assert_eq!(line.unit_price.cents(), 1999);
    assert_eq!(line.quantity, qty(3));
    assert_eq!(loaded.state.total.cents(), 3 * 1999);

    // The service decides on the upcast state.
    let changed = env
        .service
        .change_quantity(order, product, qty(4), &ctx())
        .await
        .unwrap();
    assert_eq!(changed.version, 3);
    assert_eq!(env.order_state(order).await.total.cents(), 4 * 1999);
    env.finish().await;
}

async fn seed_creates_every_status(backend: Backend) {
    let env = Env::new(backend).await;
    let calls = std::sync::Mutex::new(Vec::new());
    let summary = orders::seed::seed(&env.service, 15, |done, total| {
        calls.lock().unwrap().push((done, total));
    })
    .await
    .unwrap();
    assert_eq!(summary.customers.len(), 10);
    assert_eq!(summary.products.len(), 12);
    assert_eq!(summary.orders.len(), 15);
    let calls = calls.into_inner().unwrap();
    assert_eq!(calls.last(), Some(&(37, 37)));
    for status in OrderStatus::ALL {
        assert!(summary.orders.iter().any(|(_, s)| *s == status), "{status}");
    }
    for (order, status) in &summary.orders {
        let state = env.order_state(*order).await;
        assert_eq!(state.status, *status);
        assert!(!state.lines.is_empty());
    }
    // Deterministic and safe to run again: the same data, nothing written twice.
    let head = env.head().await;
    let again = orders::seed::seed(&env.service, 15, |_, _| {})
        .await
        .unwrap();
    assert_eq!(again, summary);
    assert_eq!(env.head().await, head);
    env.finish().await;
}

/// A crash between the append and the key row leaves only the key-derived events: the same
/// request is recovered from them, a different request under that key is still rejected.
async fn idempotency_recovery_checks_the_request(backend: Backend) {
    let env = Env::new(backend).await;
    let customer = env.customer("Barbara Liskov").await;
    let product = env.product("PEN-7", 250).await;
    let order = env.order(customer).await;
    let keyed = || ctx().with_idempotency_key("add-pen-7");
    let first = env
        .service
        .add_item(order, product, qty(2), &keyed())
        .await
        .unwrap();
    // Simulate the crash: the key row never got written.
    sqlx::query("delete from idempotency_keys where key = $1")
        .bind("add-pen-7")
        .execute(env.test_db.db().pool())
        .await
        .unwrap();
    let err = env
        .service
        .add_item(order, product, qty(5), &keyed())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CommandError::IdempotencyKeyReused { .. }),
        "{err:?}"
    );
    let again = env
        .service
        .add_item(order, product, qty(2), &keyed())
        .await
        .unwrap();
    assert!(again.replayed);
    assert_same_outcome(&first, &again);
    assert_eq!(env.version(&order_stream(order)).await, 2);
}

/// Placing an order with its lines is one command and one append: every line or none, and a
/// retry with the same key answers the first result.
async fn place_with_lines_is_atomic_and_idempotent(backend: Backend) {
    let env = Env::new(backend).await;
    let customer = env.customer("Lina Line").await;
    let a = env.product("PWL-A", 250).await;
    let b = env.product("PWL-B", 1000).await;
    let missing = ProductId::new(Uuid::now_v7());

    // A refused line (an unknown product) leaves no order at all, and writes nothing.
    let head = env.head().await;
    let order_id = OrderId::new(Uuid::now_v7());
    let refused = env
        .service
        .place_order_with_lines(
            Some(order_id),
            customer,
            &[(a, qty(1)), (missing, qty(2))],
            &ctx(),
        )
        .await;
    assert!(
        matches!(refused, Err(CommandError::NotFound { kind: "product", id }) if id == missing.as_uuid()),
        "{refused:?}"
    );
    assert_eq!(env.version(&order_stream(order_id)).await, 0);
    assert_eq!(env.head().await, head, "nothing written");

    // A line that breaks an order rule (the same product twice) refuses the whole placement.
    let twice = env
        .service
        .place_order_with_lines(
            Some(order_id),
            customer,
            &[(a, qty(1)), (a, qty(2))],
            &ctx(),
        )
        .await;
    assert!(
        matches!(
            twice,
            Err(CommandError::Domain(
                domain::DomainError::ProductAlreadyInOrder { .. }
            ))
        ),
        "{twice:?}"
    );
    assert_eq!(env.head().await, head, "nothing written");

    // Accepted: OrderPlaced and one ItemAdded per line, in one append (consecutive positions).
    let keyed = ctx().with_idempotency_key("place-with-lines-1");
    let placed = env
        .service
        .place_order_with_lines(None, customer, &[(a, qty(2)), (b, qty(1))], &keyed)
        .await
        .unwrap();
    assert_eq!(placed.version, 3);
    assert_eq!(placed.events.len(), 3);
    assert_eq!(placed.events[0].event_type(), "OrderPlaced");
    assert_eq!(placed.events[1].event_type(), "ItemAdded");
    assert_eq!(placed.events[2].event_type(), "ItemAdded");
    let stored = env
        .service
        .store()
        .read_stream(&placed.stream_id, 1, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored[2].position - stored[0].position,
        2,
        "one append, no gaps"
    );
    let state = env.order_state(OrderId::new(placed.id)).await;
    assert_eq!(state.total, money(2 * 250 + 1000));
    assert_eq!(state.lines.len(), 2);

    // The same submission again: the first result, nothing written.
    let head = env.head().await;
    let again = env
        .service
        .place_order_with_lines(None, customer, &[(a, qty(2)), (b, qty(1))], &keyed)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(
        (again.id, again.version, again.position),
        (placed.id, placed.version, placed.position)
    );
    assert_eq!(env.head().await, head);

    // The same key with other lines is refused.
    let other = env
        .service
        .place_order_with_lines(None, customer, &[(a, qty(3))], &keyed)
        .await;
    assert!(
        matches!(other, Err(CommandError::IdempotencyKeyReused { .. })),
        "{other:?}"
    );
    env.finish().await;
}
