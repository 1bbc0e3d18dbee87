//! Demo data, created through the command service (never with SQL), so that it produces the
//! same events, projections and broker messages as real use.
//!
//! Deterministic: the same `orders` count gives the same customers, products and orders with
//! the same ids. Every command carries an idempotency key derived from its place in the seed,
//! so running the seed again on the same database writes nothing twice.

use anyhow::Context as _;
use domain::order::OrderStatus;
use domain::values::{
    Carrier, CustomerName, Email, Money, ProductName, Quantity, Reason, Sku, StockUnits,
    TrackingNumber,
};
use domain::{CustomerId, OrderId, ProductId};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom as _, SliceRandom as _};
use rand::{Rng as _, SeedableRng as _};
use uuid::Uuid;

use crate::command::{CommandContext, CommandError, CommandResult, CommandService, NewProduct};

/// Seed of the random generator: change it and the demo data changes.
const SEED: u64 = 0x00E7_E471_DE00;
/// The user id on the seeded events.
pub const SEED_USER: &str = "seed";

const CUSTOMERS: &[(&str, &str)] = &[
    ("Ada Lovelace", "ada.lovelace@example.com"),
    ("Grace Hopper", "grace.hopper@example.com"),
    ("Alan Turing", "alan.turing@example.org"),
    ("Margaret Hamilton", "margaret.hamilton@example.com"),
    ("Edsger Dijkstra", "edsger@example.nl"),
    ("Barbara Liskov", "barbara.liskov@example.edu"),
    ("Donald Knuth", "don.knuth@example.edu"),
    ("Frances Allen", "fran.allen@example.com"),
    ("Ken Thompson", "ken@example.com"),
    ("Radia Perlman", "radia.perlman@example.net"),
];

/// (SKU, name, price in cents).
const PRODUCTS: &[(&str, &str, i64)] = &[
    (
        "KB-MECH-87",
        "Mechanical Keyboard, 87 keys, brown switches",
        8999,
    ),
    ("MS-WL-PRO", "Wireless Mouse Pro", 4950),
    ("MON-27-4K", "27\" 4K IPS Monitor", 32900),
    ("HUB-USBC-7", "USB-C Hub, 7 ports", 3499),
    ("CBL-HDMI-2M", "HDMI 2.1 Cable, 2 m", 1299),
    ("HS-ANC-300", "Noise-Cancelling Headset", 14900),
    ("CAM-HD-1080", "1080p Webcam with Privacy Shutter", 5990),
    ("SSD-NVME-1TB", "NVMe SSD, 1 TB", 7990),
    ("DESK-MAT-XL", "Desk Mat XL, felt", 2490),
    ("LAMP-LED-ARM", "LED Desk Lamp with Arm", 4599),
    ("STD-LAPTOP-AL", "Aluminium Laptop Stand", 3990),
    ("CHR-ERGO-MESH", "Ergonomic Mesh Office Chair", 27900),
];

const CARRIERS: &[&str] = &["DHL", "UPS", "FedEx", "PostNL", "DPD"];

const CANCEL_REASONS: &[&str] = &[
    "Customer changed their mind",
    "Found a better price elsewhere",
    "Ordered by mistake",
    "Delivery takes too long",
];

/// What the seed created (or found already there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    /// The customers' ids.
    pub customers: Vec<CustomerId>,
    /// The products' ids.
    pub products: Vec<ProductId>,
    /// Every order with the status it was left in.
    pub orders: Vec<(OrderId, OrderStatus)>,
}

/// Creates ~10 customers, ~12 products and `orders` orders in every status (draft, confirmed,
/// shipped, delivered, cancelled; cycling so that 5 or more orders cover all of them) through
/// `service`. `progress(done, total)` is called after each step; total = customers + products
/// + orders.
pub async fn seed(
    service: &CommandService,
    orders: usize,
    progress: impl Fn(usize, usize),
) -> CommandResult<SeedSummary> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let total = CUSTOMERS.len() + PRODUCTS.len() + orders;
    let mut done = 0;
    let mut summary = SeedSummary::default();

    for (i, (name, email)) in CUSTOMERS.iter().enumerate() {
        let id = CustomerId::new(random_uuid(&mut rng));
        let ctx = seed_ctx(format!("customer/{i}"));
        let name = CustomerName::parse(name).map_err(domain::DomainError::from)?;
        let email = Email::parse(email).map_err(domain::DomainError::from)?;
        service
            .register_customer(Some(id), name, email, &ctx)
            .await?;
        summary.customers.push(id);
        done += 1;
        progress(done, total);
    }

    for (i, (sku, name, cents)) in PRODUCTS.iter().enumerate() {
        let id = ProductId::new(random_uuid(&mut rng));
        let ctx = seed_ctx(format!("product/{i}"));
        // Enough stock for every seeded order to take a few units of every product.
        let units = u32::try_from(orders.saturating_mul(12).saturating_add(100))
            .unwrap_or(StockUnits::MAX)
            .min(StockUnits::MAX);
        let stock = StockUnits::new(units).map_err(domain::DomainError::from)?;
        let new = NewProduct::new(
            Sku::parse(sku).map_err(domain::DomainError::from)?,
            ProductName::parse(name).map_err(domain::DomainError::from)?,
            Money::from_cents(*cents).map_err(domain::DomainError::from)?,
        )
        .with_stock(stock);
        service.create_product(Some(id), new, &ctx).await?;
        summary.products.push(id);
        done += 1;
        progress(done, total);
    }

    for n in 0..orders {
        // Now and then a price changes, so orders show different prices for one product.
        if n > 0 && n % 7 == 0 {
            let product = pick(&mut rng, &summary.products)?;
            let cents: i64 = rng.random_range(999..=29_999);
            let price =
                Money::from_cents(cents - cents % 10 + 9).map_err(domain::DomainError::from)?;
            let ctx = seed_ctx(format!("order/{n}/reprice"));
            match service.reprice(product, price, &ctx).await {
                Ok(_) | Err(CommandError::Domain(domain::DomainError::ProductPriceUnchanged)) => {}
                Err(e) => return Err(e),
            }
        }
        let status = OrderStatus::ALL[n % OrderStatus::ALL.len()];
        let order_id = seed_order(service, &mut rng, &summary, n, status).await?;
        summary.orders.push((order_id, status));
        done += 1;
        progress(done, total);
    }

    // One product is taken off sale (after the orders, which may contain it).
    if let Some(last) = summary.products.last() {
        service
            .discontinue(*last, &seed_ctx("product/discontinue".to_owned()))
            .await?;
    }
    Ok(summary)
}

async fn seed_order(
    service: &CommandService,
    rng: &mut StdRng,
    summary: &SeedSummary,
    n: usize,
    status: OrderStatus,
) -> CommandResult<OrderId> {
    let order_id = OrderId::new(random_uuid(rng));
    let customer = pick(rng, &summary.customers)?;
    // One correlation id per order's journey; each step is caused by the step before it, so
    // the console's causation tree of a seeded order shows the whole chain.
    let journey = Journey {
        correlation_id: random_uuid(rng),
        previous: std::cell::Cell::new(None),
    };
    let key = |step: &str| journey.step(format!("order/{n}/{step}"));
    service
        .place_order(Some(order_id), customer, &key("place"))
        .await?;

    let mut products = summary.products.clone();
    products.shuffle(rng);
    let lines = rng.random_range(1..=4_usize).min(products.len());
    for (i, product) in products.iter().take(lines).enumerate() {
        let quantity = quantity(rng.random_range(1..=5))?;
        service
            .add_item(order_id, *product, quantity, &key(&format!("add/{i}")))
            .await?;
    }
    // Some drafts were edited: a quantity changed, an extra line removed again.
    if rng.random_bool(0.4) {
        if let Some(first) = products.first() {
            let quantity = quantity(rng.random_range(6..=12))?;
            service
                .change_quantity(order_id, *first, quantity, &key("change"))
                .await?;
        }
        if let Some(extra) = products.get(lines) {
            service
                .add_item(order_id, *extra, quantity(1)?, &key("add/extra"))
                .await?;
            service
                .remove_item(order_id, *extra, &key("remove/extra"))
                .await?;
        }
    }

    let reached = match status {
        OrderStatus::Draft => return Ok(order_id),
        // Cancelled orders were cancelled at some point of their life.
        OrderStatus::Cancelled => *[
            OrderStatus::Draft,
            OrderStatus::Confirmed,
            OrderStatus::Shipped,
        ]
        .choose(rng)
        .unwrap_or(&OrderStatus::Draft),
        other => other,
    };
    if reached != OrderStatus::Draft {
        service.confirm(order_id, &key("confirm")).await?;
    }
    if matches!(reached, OrderStatus::Shipped | OrderStatus::Delivered) {
        let carrier = CARRIERS.choose(rng).copied().unwrap_or("DHL");
        let tracking = format!(
            "{}{:010}",
            &carrier[..2].to_ascii_uppercase(),
            rng.random_range(0..10_000_000_000_u64)
        );
        service
            .ship(
                order_id,
                Carrier::parse(carrier).map_err(domain::DomainError::from)?,
                TrackingNumber::parse(&tracking).map_err(domain::DomainError::from)?,
                &key("ship"),
            )
            .await?;
    }
    if reached == OrderStatus::Delivered {
        service.deliver(order_id, &key("deliver")).await?;
    }
    if status == OrderStatus::Cancelled {
        let reason = CANCEL_REASONS
            .choose(rng)
            .copied()
            .unwrap_or("Customer changed their mind");
        service
            .cancel(
                order_id,
                Reason::parse(reason).map_err(domain::DomainError::from)?,
                &key("cancel"),
            )
            .await?;
    }
    Ok(order_id)
}

/// The commands of one seeded order: one correlation id, each caused by the one before.
struct Journey {
    correlation_id: Uuid,
    previous: std::cell::Cell<Option<Uuid>>,
}

impl Journey {
    fn step(&self, step: String) -> CommandContext {
        let ctx = seed_ctx(step)
            .with_correlation_id(self.correlation_id)
            .with_caused_by(self.previous.get());
        self.previous.set(Some(ctx.command_id));
        ctx
    }
}

fn seed_ctx(step: String) -> CommandContext {
    CommandContext::for_user(SEED_USER).with_idempotency_key(format!("seed-v1/{step}"))
}

/// A UUID v4-shaped id from the seeded generator (deterministic, unlike `Uuid::new_v4`).
fn random_uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> CommandResult<T> {
    items
        .choose(rng)
        .copied()
        .context("the seed has nothing to pick from")
        .map_err(CommandError::Internal)
}

fn quantity(n: u32) -> CommandResult<Quantity> {
    Ok(Quantity::new(n).map_err(domain::DomainError::from)?)
}

/// A demo account created by [`seed_accounts`], with its password (demo data: change or
/// disable these accounts before real use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    /// The username.
    pub username: &'static str,
    /// The password.
    pub password: &'static str,
    /// The role.
    pub role: domain::account::Role,
}

/// One account per role: a customer acting for `customer` (one of the seeded customers), a
/// staff member and an admin. Accounts that exist already are left as they are (a second seed
/// changes nothing), and are not listed.
pub async fn seed_accounts(
    commands: &CommandService,
    customer: CustomerId,
) -> anyhow::Result<Vec<DemoAccount>> {
    use domain::account::{Account, AccountCommand, Role, Username};
    use domain::values::PersonName;

    let credentials = crate::identity::CredentialStore::new(commands.store().db().clone());
    let demo: [(&'static str, &'static str, &str, Role, Option<CustomerId>); 3] = [
        (
            "customer",
            "customer-demo-1",
            "Ada Lovelace",
            Role::Customer,
            Some(customer),
        ),
        ("staff", "staff-demo-1", "Sam Staff", Role::Staff, None),
        ("admin2", "admin-demo-1", "Alex Admin", Role::Admin, None),
    ];
    let mut created = Vec::new();
    for (username, password, display, role, customer_id) in demo {
        let name = Username::parse(username)?;
        let account_id = domain::AccountId::for_username(&name);
        if commands
            .load::<Account>(account_id.as_uuid())
            .await?
            .exists()
        {
            continue;
        }
        let hash = crate::identity::passwords::hash(password.to_owned()).await?;
        let open = AccountCommand::Open {
            account_id,
            username: name,
            display_name: PersonName::parse(display)?,
            role,
            customer_id,
        };
        commands
            .account(
                account_id,
                open,
                "open_account",
                &seed_ctx(format!("account:{username}")),
            )
            .await?;
        credentials.set(account_id, &hash).await?;
        created.push(DemoAccount {
            username,
            password,
            role,
        });
    }
    Ok(created)
}
