//! Shared by the projection, query and hub tests: a fresh database with the event store, the
//! command service and the projection runner; a random command workload; dumps of every
//! read-model table to compare generations; a direct replay into a fresh generation.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use domain::account::{AccountCommand, Role, Username};
use domain::order::OrderStatus;
use domain::values::{
    Carrier, CustomerName, Email, Money, PersonName, ProductName, Quantity, Reason, Sku, TokenName,
    TrackingNumber,
};
use domain::{AccountId, CustomerId, OrderId, ProductId};
use eventstore::projection::{ProjectionRunner, RunnerConfig};
use eventstore::testing::TestDb;
use eventstore::{Backend, EventStore as _, SqlEventStore};
use orders::command::{CommandConfig, CommandContext, CommandError, CommandService};
use orders::projections;
use orders::query::{QueryConfig, QueryService};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use sqlx::{Connection as _, Row as _};

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// A fresh database with store, command service and (optionally) a runner.
pub struct Env {
    pub test_db: TestDb,
    pub store: Arc<SqlEventStore>,
    pub commands: CommandService,
}

impl Env {
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        let test_db = TestDb::new(backend).await?;
        let store =
            SqlEventStore::open(test_db.db().clone(), orders::command::upcaster_registry()).await?;
        let commands = CommandService::new(store.clone(), CommandConfig::default());
        Ok(Self {
            test_db,
            store: Arc::new(store),
            commands,
        })
    }

    pub fn db(&self) -> &eventstore::Db {
        self.test_db.db()
    }

    pub async fn runner(&self, config: RunnerConfig) -> anyhow::Result<ProjectionRunner> {
        Ok(ProjectionRunner::start(self.store.clone(), projections::all(), config).await?)
    }

    pub fn queries(&self, runner: &ProjectionRunner, wait: Duration) -> QueryService {
        QueryService::with_config(
            self.db().clone(),
            Arc::new(runner.clone()),
            QueryConfig { wait_bound: wait },
        )
    }

    pub async fn head(&self) -> anyhow::Result<i64> {
        Ok(self.store.head_position().await?)
    }

    pub async fn cleanup(self) {
        self.store.shutdown().await;
        self.test_db.cleanup().await;
    }
}

pub fn fast_runner_config(batch_size: u32) -> RunnerConfig {
    RunnerConfig {
        batch_size,
        max_attempts: 2,
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        instance: "test".to_owned(),
        hold: None,
        ..RunnerConfig::default()
    }
}

/// Waits until every projection's live checkpoint reached the head.
pub async fn catch_up(env: &Env, runner: &ProjectionRunner) -> anyhow::Result<i64> {
    let head = env.head().await?;
    if !runner.wait_for_all(head, Duration::from_secs(60)).await {
        bail!("projections did not reach {head}: {:#?}", runner.status());
    }
    Ok(head)
}

// ---------------------------------------------------------------------------------------------
// Random workload

fn ctx() -> CommandContext {
    CommandContext::new()
}

fn parse<T, E: std::fmt::Debug>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("invalid test value: {e:?}"))
}

const FIRST: [&str; 6] = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald"];
const LAST: [&str; 6] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth",
];
const PRODUCTS: [&str; 6] = [
    "Espresso beans",
    "Green tea",
    "Oat milk",
    "Dark chocolate",
    "Croissant",
    "Maple syrup",
];

/// Ids created by a workload.
#[derive(Debug, Default, Clone)]
pub struct World {
    pub customers: Vec<CustomerId>,
    pub products: Vec<ProductId>,
    pub orders: Vec<OrderId>,
    pub accounts: Vec<AccountId>,
}

/// Whether a command failure is an expected rejection of a randomly chosen command.
fn rejected(e: &CommandError) -> bool {
    matches!(
        e,
        CommandError::Domain(_) | CommandError::NotFound { .. } | CommandError::Conflict { .. }
    )
}

async fn tolerate<T>(r: Result<T, CommandError>) -> anyhow::Result<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e) if rejected(&e) => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context("command failed")),
    }
}

/// Registers customers and products, then runs `steps` random commands (valid or rejected by
/// the domain). Returns the ids it created.
pub async fn random_workload(
    commands: &CommandService,
    seed: u64,
    world: &mut World,
    steps: usize,
) -> anyhow::Result<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut accepted = 0;
    while world.customers.len() < 4 {
        let n = world.customers.len();
        let name = parse(CustomerName::parse(&format!(
            "{} {}",
            FIRST[n % 6],
            LAST[n % 6]
        )))?;
        let email = parse(Email::parse(&format!("c{n}-{seed}@example.com")))?;
        let out = commands
            .register_customer(None, name, email, &ctx())
            .await?;
        world.customers.push(CustomerId::new(out.id));
    }
    while world.products.len() < 6 {
        let n = world.products.len();
        let out = commands
            .create_product(
                None,
                orders::command::NewProduct::new(
                    parse(Sku::parse(&format!("SKU-{seed}-{n}")))?,
                    parse(ProductName::parse(PRODUCTS[n % 6]))?,
                    parse(Money::from_cents(199 + 100 * n as i64))?,
                )
                .with_stock(domain::values::StockUnits::new(1_000_000).expect("stock")),
                &ctx(),
            )
            .await?;
        world.products.push(ProductId::new(out.id));
    }
    while world.accounts.len() < 3 {
        let n = world.accounts.len();
        let username = parse(Username::parse(&format!("user{n}-{seed}")))?;
        let account_id = AccountId::for_username(&username);
        let open = AccountCommand::Open {
            account_id,
            username,
            display_name: parse(PersonName::parse(FIRST[n % 6]))?,
            role: Role::ALL[n % 3],
            customer_id: n
                .is_multiple_of(3)
                .then(|| world.customers[n % world.customers.len()]),
        };
        commands.account(account_id, open, "open", &ctx()).await?;
        world.accounts.push(account_id);
    }
    for _ in 0..steps {
        // Now and then an account changes (the users read model).
        if rng.random_range(0..25) == 0 {
            let account = world.accounts[rng.random_range(0..world.accounts.len())];
            let command = match rng.random_range(0..5) {
                0 => AccountCommand::ChangeRole {
                    role: Role::ALL[rng.random_range(0..3)],
                },
                1 => AccountCommand::Disable {
                    reason: parse(Reason::parse("left the company"))?,
                },
                2 => AccountCommand::Enable,
                3 => AccountCommand::IssueToken {
                    token_id: uuid::Uuid::now_v7(),
                    name: parse(TokenName::parse("ci"))?,
                },
                _ => AccountCommand::RevokeToken {
                    token_id: uuid::Uuid::now_v7(),
                },
            };
            accepted += usize::from(
                tolerate(commands.account(account, command, "account", &ctx()).await).await?,
            );
        }
        let roll = rng.random_range(0..100);
        let customer = world.customers[rng.random_range(0..world.customers.len())];
        let product = world.products[rng.random_range(0..world.products.len())];
        let order = if world.orders.is_empty() || roll < 12 {
            let out = commands.place_order(None, customer, &ctx()).await;
            if let Ok(o) = &out {
                world.orders.push(OrderId::new(o.id));
            }
            accepted += usize::from(tolerate(out).await?);
            continue;
        } else {
            // Recent orders are more likely to be drafts: bias towards them.
            let n = world.orders.len();
            let back = rng.random_range(0..n.min(8));
            world.orders[n - 1 - back]
        };
        let qty = parse(Quantity::new(rng.random_range(1..6)))?;
        let ok = match roll {
            12..=44 => tolerate(commands.add_item(order, product, qty, &ctx()).await).await?,
            45..=52 => tolerate(commands.remove_item(order, product, &ctx()).await).await?,
            53..=60 => {
                tolerate(commands.change_quantity(order, product, qty, &ctx()).await).await?
            }
            61..=72 => tolerate(commands.confirm(order, &ctx()).await).await?,
            73..=79 => {
                let carrier = parse(Carrier::parse("DHL"))?;
                let tracking = parse(TrackingNumber::parse(&format!(
                    "TRK{}",
                    rng.random_range(1000..9999)
                )))?;
                tolerate(commands.ship(order, carrier, tracking, &ctx()).await).await?
            }
            80..=85 => tolerate(commands.deliver(order, &ctx()).await).await?,
            86..=90 => {
                let reason = parse(Reason::parse("changed my mind"))?;
                tolerate(commands.cancel(order, reason, &ctx()).await).await?
            }
            91..=94 => {
                let name = format!(
                    "{} {}",
                    FIRST[rng.random_range(0..6)],
                    LAST[rng.random_range(0..6)]
                );
                let name = parse(CustomerName::parse(&name))?;
                if rng.random_range(0..25) == 0 {
                    // Rare: an erasure (the projections blank their copies; later commands on
                    // the customer are refused).
                    let reason = parse(Reason::parse("GDPR request"))?;
                    tolerate(commands.erase_customer(customer, reason, &ctx()).await).await?
                } else {
                    tolerate(commands.rename_customer(customer, name, &ctx()).await).await?
                }
            }
            95..=97 => {
                let price = parse(Money::from_cents(rng.random_range(50..5000)))?;
                tolerate(commands.reprice(product, price, &ctx()).await).await?
            }
            98 => {
                let name = parse(ProductName::parse(&format!(
                    "{} {}",
                    PRODUCTS[rng.random_range(0..6)],
                    rng.random_range(1..9)
                )))?;
                tolerate(commands.rename_product(product, name, &ctx()).await).await?
            }
            _ => {
                // Rare: discontinuing makes later AddItems of it rejected.
                if rng.random_range(0..4) == 0 {
                    tolerate(commands.discontinue(product, &ctx()).await).await?
                } else {
                    false
                }
            }
        };
        accepted += usize::from(ok);
    }
    Ok(accepted)
}

// ---------------------------------------------------------------------------------------------
// Dumps

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    NullText,
}

/// (projection, table, order by, columns).
type TableSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, Kind)],
);

const TABLES: &[TableSpec] = &[
    (
        "orders",
        "rm_orders",
        "order_id",
        &[
            ("order_id", Kind::Text),
            ("customer_id", Kind::Text),
            ("customer_name", Kind::Text),
            ("status", Kind::Text),
            ("item_count", Kind::Int),
            ("total_cents", Kind::Int),
            ("created_at_us", Kind::Int),
            ("updated_at_us", Kind::Int),
            ("version", Kind::Int),
            ("carrier", Kind::NullText),
            ("tracking_number", Kind::NullText),
            ("cancel_reason", Kind::NullText),
        ],
    ),
    (
        "orders",
        "rm_order_lines",
        "order_id, product_id",
        &[
            ("order_id", Kind::Text),
            ("product_id", Kind::Text),
            ("added_position", Kind::Int),
            ("sku", Kind::Text),
            ("product_name", Kind::Text),
            ("unit_price_cents", Kind::Int),
            ("quantity", Kind::Int),
        ],
    ),
    (
        "orders",
        "rm_order_customers",
        "customer_id",
        &[("customer_id", Kind::Text), ("name", Kind::Text)],
    ),
    (
        "customers",
        "rm_customers",
        "customer_id",
        &[
            ("customer_id", Kind::Text),
            ("name", Kind::Text),
            ("email", Kind::Text),
            ("registered_at_us", Kind::Int),
            ("version", Kind::Int),
        ],
    ),
    (
        "products",
        "rm_products",
        "product_id",
        &[
            ("product_id", Kind::Text),
            ("sku", Kind::Text),
            ("name", Kind::Text),
            ("price_cents", Kind::Int),
            ("discontinued", Kind::Int),
            ("on_hand", Kind::Int),
            ("reserved", Kind::Int),
            ("version", Kind::Int),
        ],
    ),
    (
        "users",
        "rm_users",
        "account_id",
        &[
            ("account_id", Kind::Text),
            ("username", Kind::Text),
            ("display_name", Kind::Text),
            ("role", Kind::Text),
            ("customer_id", Kind::NullText),
            ("disabled", Kind::Int),
            ("tokens", Kind::Int),
            ("opened_at_us", Kind::Int),
            ("version", Kind::Int),
        ],
    ),
    (
        "dashboard",
        "rm_dash_orders",
        "order_id",
        &[
            ("order_id", Kind::Text),
            ("status", Kind::Text),
            ("total_cents", Kind::Int),
        ],
    ),
    (
        "dashboard",
        "rm_dash_lines",
        "order_id, product_id",
        &[
            ("order_id", Kind::Text),
            ("product_id", Kind::Text),
            ("sku", Kind::Text),
            ("product_name", Kind::Text),
            ("unit_price_cents", Kind::Int),
            ("quantity", Kind::Int),
        ],
    ),
    (
        "dashboard",
        "rm_dash_product_names",
        "product_id",
        &[("product_id", Kind::Text), ("name", Kind::Text)],
    ),
    (
        "dashboard",
        "rm_dash_minutes",
        "minute",
        &[("minute", Kind::Int), ("placed", Kind::Int)],
    ),
    (
        "activity",
        "rm_activity",
        "position",
        &[
            ("position", Kind::Int),
            ("event_id", Kind::Text),
            ("stream_id", Kind::Text),
            ("event_type", Kind::Text),
            ("text", Kind::Text),
            ("at_us", Kind::Int),
        ],
    ),
    (
        "activity",
        "rm_activity_products",
        "product_id",
        &[("product_id", Kind::Text), ("name", Kind::Text)],
    ),
];

/// Every row of every read-model table, per table, for the generation `generation_of(projection)`.
pub type Dump = BTreeMap<&'static str, Vec<Vec<String>>>;

pub async fn dump_with(
    db: &eventstore::Db,
    generation_of: impl Fn(&str) -> i64,
) -> anyhow::Result<Dump> {
    let mut conn = db.pool().acquire().await?;
    let mut dump = Dump::new();
    for (projection, table, order, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        let sql = format!(
            "select {} from {table} where generation = $1 order by {order}",
            names.join(", ")
        );
        let rows = sqlx::query(&sql)
            .bind(generation_of(projection))
            .fetch_all(&mut *conn)
            .await
            .with_context(|| format!("dumping {table}"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, (_, kind)) in columns.iter().enumerate() {
                values.push(match kind {
                    Kind::Int => row.try_get::<i64, _>(i)?.to_string(),
                    Kind::Text => row.try_get::<String, _>(i)?,
                    Kind::NullText => format!("{:?}", row.try_get::<Option<String>, _>(i)?),
                });
            }
            out.push(values);
        }
        dump.insert(table, out);
    }
    Ok(dump)
}

/// The live generation of each projection.
pub async fn live_generations(db: &eventstore::Db) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as("select name, generation from projections")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.into_iter().collect())
}

/// The live read models.
pub async fn dump_live(db: &eventstore::Db) -> anyhow::Result<Dump> {
    let generations = live_generations(db).await?;
    dump_with(db, |p| generations.get(p).copied().unwrap_or(-1)).await
}

/// Replays the whole log through every projection into `generation` (outside the runner: an
/// independent from-scratch replay), then returns its dump and deletes it again.
pub async fn replay_dump(env: &Env, generation: i64) -> anyhow::Result<Dump> {
    let all = projections::all();
    let mut conn = env.db().pool().acquire().await?;
    let mut tx = conn.begin().await?;
    for p in &all {
        p.drop_generation(&mut tx, generation).await?;
    }
    let mut after = 0;
    loop {
        let batch = env.store.read_all(after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        for event in &batch {
            for p in &all {
                p.apply(&mut tx, generation, event)
                    .await
                    .with_context(|| format!("replaying {} into {}", event.position, p.name()))?;
            }
        }
    }
    tx.commit().await?;
    let dump = dump_with(env.db(), |_| generation).await?;
    let mut tx = conn.begin().await?;
    for p in &all {
        p.drop_generation(&mut tx, generation).await?;
    }
    tx.commit().await?;
    Ok(dump)
}

/// Asserts two dumps are equal table by table (readable failure).
pub fn assert_same(live: &Dump, replay: &Dump, what: &str) {
    for (table, rows) in replay {
        let other = live.get(table).cloned().unwrap_or_default();
        assert_eq!(
            other.len(),
            rows.len(),
            "{what}: {table} has {} rows live vs {} replayed",
            other.len(),
            rows.len()
        );
        for (a, b) in other.iter().zip(rows) {
            assert_eq!(a, b, "{what}: {table} differs");
        }
    }
}

/// Independent oracle: every order's status and total from folding its stream with the domain.
pub async fn domain_orders(env: &Env) -> anyhow::Result<BTreeMap<String, (OrderStatus, i64)>> {
    use domain::aggregate::{Aggregate as _, DomainEvent as _};
    use domain::order::{Order, OrderEvent, OrderState};
    let mut states: BTreeMap<String, OrderState> = BTreeMap::new();
    let mut after = 0;
    loop {
        let batch = env.store.read_all(after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.position;
        for e in batch.iter().filter(|e| e.stream_type == "order") {
            let event = OrderEvent::from_data(&e.event_type, &e.data)?;
            let id = e.stream_id.trim_start_matches("order-").to_owned();
            let state = states.remove(&id).unwrap_or_default();
            states.insert(id, Order::evolve(state, &event));
        }
    }
    Ok(states
        .into_iter()
        .map(|(id, s)| (id, (s.status, s.total.cents())))
        .collect())
}
