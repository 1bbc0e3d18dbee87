//! Model-based test: random command sequences through the HTTP API, each reply checked against
//! a reference model of the order domain written independently of the server's code, and the
//! read model compared with the model at the end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Row;
use crate::check;
use crate::harness::{self, Backend, Server, ServerSpec, TempDir};
use crate::load::Api;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Draft,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
struct Product {
    id: Uuid,
    price: i64,
    discontinued: bool,
}

#[derive(Debug, Clone, Default)]
struct Order {
    exists: bool,
    status: Option<Status>,
    /// (product, quantity, unit price) in the order added.
    lines: Vec<(Uuid, i64, i64)>,
    version: i64,
}

/// What the model expects: success, or one of these (status, code) refusals.
type Expect = Result<(), Vec<(u16, &'static str)>>;

impl Order {
    /// The refusal shared by every command on an existing order.
    fn common(&self) -> Option<(u16, &'static str)> {
        match self.status {
            _ if !self.exists => Some((404, "order_not_found")),
            Some(Status::Cancelled) => Some((422, "order_cancelled")),
            Some(Status::Delivered) => Some((422, "order_delivered")),
            _ => None,
        }
    }
    fn draft(&self) -> Option<(u16, &'static str)> {
        self.common().or(if self.status == Some(Status::Draft) {
            None
        } else {
            Some((422, "order_not_draft"))
        })
    }
    fn line(&self, p: Uuid) -> Option<usize> {
        self.lines.iter().position(|l| l.0 == p)
    }
}

enum Cmd {
    Place { customer: Uuid },
    Add { product: usize, qty: i64 },
    Remove { product: usize },
    Change { product: usize, qty: i64 },
    Confirm,
    Ship,
    Deliver,
    Cancel,
}

struct World {
    customers: Vec<Uuid>,
    products: Vec<Product>,
}

/// Predicts a command's reply and, on success, applies it to the model order.
fn step(world: &World, order: &mut Order, cmd: &Cmd) -> Expect {
    let refuse = |r: (u16, &'static str)| Err(vec![r]);
    let qty_ok = |q: i64| (1..=10_000).contains(&q);
    match cmd {
        Cmd::Place { customer } => {
            if !world.customers.contains(customer) {
                return refuse((404, "customer_not_found"));
            }
            if order.exists {
                return refuse((422, "order_already_exists"));
            }
            order.exists = true;
            order.status = Some(Status::Draft);
        }
        Cmd::Add { product, qty } => {
            if !qty_ok(*qty) {
                return refuse((400, "quantity_out_of_range"));
            }
            let p = world.products.get(*product);
            let product_error = match p {
                None => Some((404, "product_not_found")),
                Some(p) if p.discontinued => Some((422, "product_discontinued")),
                Some(_) => None,
            };
            let order_error = order.draft().or_else(|| {
                p.and_then(|p| order.line(p.id))
                    .map(|_| (422, "product_already_in_order"))
            });
            match (product_error, order_error) {
                (None, None) => {}
                (Some(a), Some(b)) => return Err(vec![a, b]),
                (Some(a), None) | (None, Some(a)) => return refuse(a),
            }
            let p = p.map(|p| (p.id, p.price)).unwrap_or_default();
            order.lines.push((p.0, *qty, p.1));
        }
        Cmd::Remove { product } => {
            if let Some(e) = order.draft() {
                return refuse(e);
            }
            let id = world.products.get(*product).map_or(Uuid::nil(), |p| p.id);
            match order.line(id) {
                None => return refuse((422, "product_not_in_order")),
                Some(i) => {
                    order.lines.remove(i);
                }
            }
        }
        Cmd::Change { product, qty } => {
            if !qty_ok(*qty) {
                return refuse((400, "quantity_out_of_range"));
            }
            if let Some(e) = order.draft() {
                return refuse(e);
            }
            let id = world.products.get(*product).map_or(Uuid::nil(), |p| p.id);
            match order.line(id) {
                None => return refuse((422, "product_not_in_order")),
                Some(i) if order.lines[i].1 == *qty => {
                    return refuse((422, "quantity_unchanged"));
                }
                Some(i) => order.lines[i].1 = *qty,
            }
        }
        Cmd::Confirm => {
            if let Some(e) = order.draft() {
                return refuse(e);
            }
            if order.lines.is_empty() {
                return refuse((422, "order_has_no_items"));
            }
            order.status = Some(Status::Confirmed);
        }
        Cmd::Ship => {
            if let Some(e) = order.common() {
                return refuse(e);
            }
            if order.status != Some(Status::Confirmed) {
                return refuse((422, "order_not_confirmed"));
            }
            order.status = Some(Status::Shipped);
        }
        Cmd::Deliver => {
            if let Some(e) = order.common() {
                return refuse(e);
            }
            if order.status != Some(Status::Shipped) {
                return refuse((422, "order_not_shipped"));
            }
            order.status = Some(Status::Delivered);
        }
        Cmd::Cancel => {
            if let Some(e) = order.common() {
                return refuse(e);
            }
            order.status = Some(Status::Cancelled);
        }
    }
    order.version += 1;
    Ok(())
}

fn random_cmd(rng: &mut StdRng, world: &World, order: &Order) -> Cmd {
    // Mostly known products; now and then one that does not exist (index past the end).
    let pick = |rng: &mut StdRng| {
        if rng.random_range(0..20) == 0 {
            world.products.len()
        } else {
            rng.random_range(0..world.products.len())
        }
    };
    let qty = |rng: &mut StdRng| match rng.random_range(0..25) {
        0 => 0,
        1 => 10_001,
        _ => rng.random_range(1..=6),
    };
    if !order.exists && rng.random_range(0..6) > 0 {
        let customer = if rng.random_range(0..15) == 0 {
            Uuid::new_v4()
        } else {
            world.customers[rng.random_range(0..world.customers.len())]
        };
        return Cmd::Place { customer };
    }
    // Removing/changing mostly targets lines the order has.
    let existing = |rng: &mut StdRng| {
        if !order.lines.is_empty() && rng.random_range(0..4) > 0 {
            let id = order.lines[rng.random_range(0..order.lines.len())].0;
            world
                .products
                .iter()
                .position(|p| p.id == id)
                .unwrap_or_default()
        } else {
            pick(rng)
        }
    };
    match rng.random_range(0..100) {
        0..30 => Cmd::Add {
            product: pick(rng),
            qty: qty(rng),
        },
        30..38 => Cmd::Remove {
            product: existing(rng),
        },
        38..48 => Cmd::Change {
            product: existing(rng),
            qty: qty(rng),
        },
        48..62 => Cmd::Confirm,
        62..76 => Cmd::Ship,
        76..88 => Cmd::Deliver,
        88..94 => Cmd::Cancel,
        _ => Cmd::Place {
            customer: world.customers[0],
        },
    }
}

fn request(world: &World, order: Uuid, cmd: &Cmd) -> (reqwest::Method, String, Option<Value>) {
    let pid = |i: usize| world.products.get(i).map_or(Uuid::new_v4(), |p| p.id);
    let post = reqwest::Method::POST;
    let base = format!("/api/orders/{order}");
    match cmd {
        Cmd::Place { customer } => (
            post,
            "/api/orders".into(),
            Some(json!({ "order_id": order, "customer_id": customer })),
        ),
        Cmd::Add { product, qty } => (
            post,
            format!("{base}/items"),
            Some(json!({ "product_id": pid(*product), "quantity": qty })),
        ),
        Cmd::Remove { product } => (
            reqwest::Method::DELETE,
            format!("{base}/items/{}", pid(*product)),
            None,
        ),
        Cmd::Change { product, qty } => (
            reqwest::Method::PUT,
            format!("{base}/items/{}", pid(*product)),
            Some(json!({ "quantity": qty })),
        ),
        Cmd::Confirm => (post, format!("{base}/confirm"), None),
        Cmd::Ship => (
            post,
            format!("{base}/ship"),
            Some(json!({ "carrier": "UPS", "tracking_number": "1Z999" })),
        ),
        Cmd::Deliver => (post, format!("{base}/deliver"), None),
        Cmd::Cancel => (
            post,
            format!("{base}/cancel"),
            Some(json!({ "reason": "model test" })),
        ),
    }
}

/// Runs one sequence on a fresh order; returns the mismatches and the number of commands.
async fn sequence(
    api: &Api,
    world: &World,
    seed: u64,
) -> (Uuid, Order, usize, usize, usize, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let id = Uuid::new_v4();
    let mut order = Order::default();
    let mut problems = Vec::new();
    let mut acked = 0;
    let mut written = 0;
    let steps = rng.random_range(2..14);
    for _ in 0..steps {
        let cmd = random_cmd(&mut rng, world, &order);
        let (method, path, body) = request(world, id, &cmd);
        let before = order.clone();
        let expect = step(world, &mut order, &cmd);
        let key = format!("model-{}", Uuid::new_v4());
        let reply = api
            .send(method.clone(), &path, body.as_ref(), &key, Uuid::new_v4())
            .await;
        let ok = match (&expect, &reply) {
            (Ok(()), Ok((s, v))) => {
                (200..300).contains(s) && v["version"].as_i64() == Some(order.version)
            }
            (Err(allowed), Ok((s, v))) => {
                let code = v["error"]["code"].as_str().unwrap_or("");
                allowed.iter().any(|(st, c)| st == s && *c == code)
            }
            (_, Err(_)) => false,
        };
        if !ok {
            problems.push(format!(
                "{method} {path} {body:?}: model expected {expect:?} (order {:?} v{}), server said {reply:?}",
                before.status, before.version
            ));
            // Resynchronise nothing: the sequence's order is now unknown; stop here.
            order.exists = false;
            return (id, order, steps, acked, written, problems);
        }
        if expect.is_ok() {
            acked += 1;
            written += events_of(&cmd, &before);
        }
    }
    (id, order, steps, acked, written, problems)
}

/// Events an accepted command writes: one on the order's stream, plus one per line on the
/// products' streams when it moves stock (confirm reserves, ship takes, cancelling a confirmed
/// order releases).
fn events_of(cmd: &Cmd, before: &Order) -> usize {
    let lines = before.lines.len();
    match cmd {
        Cmd::Confirm | Cmd::Ship => 1 + lines,
        Cmd::Cancel if before.status == Some(Status::Confirmed) => 1 + lines,
        _ => 1,
    }
}

/// The read model of one order against the model.
fn compare(id: Uuid, order: &Order, detail: &Value) -> Option<String> {
    let d = &detail["data"];
    let items: i64 = order.lines.iter().map(|l| l.1).sum();
    let total: i64 = order.lines.iter().map(|l| l.1 * l.2).sum();
    let mut lines: Vec<(String, i64, i64)> = d["lines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    (
                        l["product_id"].as_str().unwrap_or_default().to_owned(),
                        l["quantity"].as_i64().unwrap_or(-1),
                        l["unit_price_cents"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut want: Vec<(String, i64, i64)> = order
        .lines
        .iter()
        .map(|l| (l.0.to_string(), l.1, l.2))
        .collect();
    lines.sort();
    want.sort();
    let status = order.status.map_or("", Status::as_str);
    if d["status"] != status
        || d["version"].as_i64() != Some(order.version)
        || d["item_count"].as_i64() != Some(items)
        || d["total_cents"].as_i64() != Some(total)
        || lines != want
    {
        return Some(format!(
            "order {id}: read model {d} vs model {status} v{} items {items} total {total} lines {want:?}",
            order.version
        ));
    }
    None
}

/// The model-based test on a fresh SQLite server.
pub async fn run(opts: &crate::Opts, sequences: usize) -> anyhow::Result<Row> {
    let mut row = Row::new(format!("model-based, {sequences} sequences"));
    let dir = TempDir::new("model", opts.keep)?;
    let mut spec = ServerSpec::new(&opts.server_bin, &dir.path.join("data"), Backend::Sqlite)?;
    spec.log = dir.path.join("server.log");
    let mut server = Server::new(spec)?;
    let result = async {
        server.start().await?;
        let db = harness::connect(&server.spec.database_url()).await?;
        let api = Api::new(server.spec.base_url(), server.spec.admin_token.clone())?;
        let mut world = World {
            customers: Vec::new(),
            products: Vec::new(),
        };
        for i in 0..5 {
            let (s, v) = api
                .send(
                    reqwest::Method::POST,
                    "/api/customers",
                    Some(&json!({ "name": format!("Model {i}"), "email": format!("model{i}@example.com") })),
                    &format!("model-c-{}", Uuid::new_v4()),
                    Uuid::new_v4(),
                )
                .await
                .map_err(anyhow::Error::msg)?;
            anyhow::ensure!(s == 201, "register customer: {s} {v}");
            world
                .customers
                .push(v["id"].as_str().unwrap_or_default().parse()?);
        }
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let mut orders: HashMap<Uuid, Order> = HashMap::new();
        let mut commands = 0;
        let mut acked = 0;
        let mut written = 0;
        // Events the setup appended (customers, products, catalogue changes).
        let mut setup_events = world.customers.len();
        let rounds = sequences.div_ceil(50);
        let mut done = 0;
        for round in 0..rounds {
            // Catalogue changes between rounds (not concurrent with the sequences).
            let new_products = if round == 0 { 8 } else { 1 };
            for _ in 0..new_products {
                let id = Uuid::new_v4();
                let price = rng.random_range(50..20_000_i64);
                let sku = format!("M-{}", &id.simple().to_string()[..10]).to_uppercase();
                let (s, v) = api
                    .send(
                        reqwest::Method::POST,
                        "/api/products",
                        Some(&json!({ "product_id": id, "sku": sku, "name": format!("Model product {sku}"), "price_cents": price, "initial_stock": 1_000_000_000 })),
                        &format!("model-p-{id}"),
                        Uuid::new_v4(),
                    )
                    .await
                    .map_err(anyhow::Error::msg)?;
                anyhow::ensure!(s == 201, "create product: {s} {v}");
                // Created and its initial stock received.
                setup_events += 2;
                world.products.push(Product {
                    id,
                    price,
                    discontinued: false,
                });
            }
            let live: Vec<usize> = (0..world.products.len())
                .filter(|i| !world.products[*i].discontinued)
                .collect();
            if round > 0 && live.len() > 4 {
                let i = live[rng.random_range(0..live.len())];
                let p = world.products[i].id;
                if rng.random_range(0..3) == 0 {
                    let (s, v) = api
                        .send(reqwest::Method::POST, &format!("/api/products/{p}/discontinue"), None, &format!("model-d-{}", Uuid::new_v4()), Uuid::new_v4())
                        .await
                        .map_err(anyhow::Error::msg)?;
                    anyhow::ensure!(s == 200, "discontinue: {s} {v}");
                    world.products[i].discontinued = true;
                    setup_events += 1;
                } else {
                    let price = world.products[i].price + rng.random_range(1..500);
                    let (s, v) = api
                        .send(reqwest::Method::POST, &format!("/api/products/{p}/reprice"), Some(&json!({ "price_cents": price })), &format!("model-r-{}", Uuid::new_v4()), Uuid::new_v4())
                        .await
                        .map_err(anyhow::Error::msg)?;
                    anyhow::ensure!(s == 200, "reprice: {s} {v}");
                    world.products[i].price = price;
                    setup_events += 1;
                }
            }
            let n = (sequences - done).min(50);
            done += n;
            let world_ref = Arc::new(World {
                customers: world.customers.clone(),
                products: world.products.clone(),
            });
            let mut tasks = Vec::new();
            for _ in 0..n {
                let (api, w, seed) = (api.clone(), Arc::clone(&world_ref), rng.random::<u64>());
                tasks.push(tokio::spawn(async move { sequence(&api, &w, seed).await }));
            }
            for t in tasks {
                let (id, order, steps, ok, events, problems) = t.await?;
                commands += steps;
                acked += ok;
                written += events;
                row.problems.extend(problems);
                orders.insert(id, order);
            }
            if row.problems.len() > 10 {
                break;
            }
        }
        row.sent = commands;
        check::wait_caught_up(&api, &db, Duration::from_secs(120)).await?;
        let mut checked = 0;
        for (id, order) in &orders {
            if !order.exists {
                continue;
            }
            checked += 1;
            let detail = api.get(&format!("/api/orders/{id}")).await?;
            if let Some(p) = compare(*id, order, &detail) {
                row.problems.push(p);
            }
        }
        // The server's own account events (the bootstrap admin) are not commands of the model.
        let events: i64 =
            sqlx::query_scalar("select count(*) from events where stream_id not like 'account-%'")
            .fetch_one(&db)
            .await?;
        let events = usize::try_from(events).unwrap_or_default();
        let expected = setup_events + written;
        row.acked = acked;
        // Every accepted command wrote its events (`events_of`); nothing else writes.
        row.lost = expected.saturating_sub(events);
        row.duplicated = events.saturating_sub(expected);
        row.rm_equal = Some(checked > 0 && row.problems.is_empty());
        row.note(format!(
            "{commands} commands; {checked} orders compared with the read model"
        ));
        db.close().await;
        Ok(())
    }
    .await;
    server.stop().await;
    row.fail_on(result);
    Ok(row)
}
