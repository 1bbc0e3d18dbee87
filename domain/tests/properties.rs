//! Property tests: random command sequences against a reference model, and snapshot + tail
//! replay equal to full replay, for all three aggregates.

mod common;

use common::*;
use domain::customer::{Customer, CustomerCommand};
use domain::order::{MAX_LINES, Order, OrderCommand, OrderState, OrderStatus};
use domain::product::{Product, ProductCommand};
use domain::values::Money;
use domain::{Aggregate, DomainEvent, replay, replay_from};
use proptest::prelude::*;
use proptest::sample::Index;

// ----- Order against a reference model -----

#[derive(Debug, Clone)]
enum Cmd {
    Place,
    Add(u8, i64, u32),
    Remove(u8),
    Change(u8, u32),
    Confirm,
    Ship,
    Deliver,
    Cancel,
}

impl Cmd {
    fn to_command(&self) -> OrderCommand {
        match *self {
            Cmd::Place => OrderCommand::Place {
                order_id: order_id(),
                customer_id: customer_id(),
                customer_name: name("Ada"),
            },
            Cmd::Add(p, price, q) => OrderCommand::AddItem {
                product_id: product(p.into()),
                sku: sku(&format!("P-{p}")),
                product_name: pname(&format!("Product {p}")),
                unit_price: cents(price),
                quantity: qty(q),
            },
            Cmd::Remove(p) => OrderCommand::RemoveItem {
                product_id: product(p.into()),
            },
            Cmd::Change(p, q) => OrderCommand::ChangeQuantity {
                product_id: product(p.into()),
                quantity: qty(q),
            },
            Cmd::Confirm => OrderCommand::Confirm,
            Cmd::Ship => OrderCommand::Ship {
                carrier: carrier("UPS"),
                tracking_number: tracking("T-1"),
            },
            Cmd::Deliver => OrderCommand::MarkDelivered,
            Cmd::Cancel => OrderCommand::Cancel {
                reason: reason("No longer needed"),
            },
        }
    }
}

/// A deliberately naive model of the rules: i128 arithmetic, a flat list of lines.
#[derive(Debug, Default, Clone)]
struct Model {
    exists: bool,
    status: OrderStatus,
    lines: Vec<(u8, i128, u32)>,
}

impl Model {
    fn total_with(&self, replace: Option<(u8, u32)>, extra: Option<(i128, u32)>) -> i128 {
        let mut total: i128 = self
            .lines
            .iter()
            .map(|&(p, price, q)| {
                let q = match replace {
                    Some((rp, rq)) if rp == p => rq,
                    _ => q,
                };
                price * i128::from(q)
            })
            .sum();
        if let Some((price, q)) = extra {
            total += price * i128::from(q);
        }
        total
    }

    /// The expected outcome: `Ok` or the expected error code. Applies accepted commands.
    fn step(&mut self, cmd: &Cmd) -> Result<(), &'static str> {
        use OrderStatus::*;
        if let Cmd::Place = cmd {
            if self.exists {
                return Err("order_already_exists");
            }
            self.exists = true;
            return Ok(());
        }
        if !self.exists {
            return Err("order_not_found");
        }
        match self.status {
            Cancelled => return Err("order_cancelled"),
            Delivered => return Err("order_delivered"),
            _ => {}
        }
        let has = |p: u8| self.lines.iter().any(|l| l.0 == p);
        let draft = self.status == Draft;
        match *cmd {
            Cmd::Place => unreachable!(),
            Cmd::Add(p, price, q) => {
                if !draft {
                    return Err("order_not_draft");
                }
                if has(p) {
                    return Err("product_already_in_order");
                }
                if self.lines.len() >= MAX_LINES {
                    return Err("too_many_order_lines");
                }
                if self.total_with(None, Some((price.into(), q)))
                    > i128::from(Money::MAX_ORDER_TOTAL.cents())
                {
                    return Err("order_total_too_high");
                }
                self.lines.push((p, price.into(), q));
            }
            Cmd::Remove(p) => {
                if !draft {
                    return Err("order_not_draft");
                }
                if !has(p) {
                    return Err("product_not_in_order");
                }
                self.lines.retain(|l| l.0 != p);
            }
            Cmd::Change(p, q) => {
                if !draft {
                    return Err("order_not_draft");
                }
                let Some(line) = self.lines.iter().position(|l| l.0 == p) else {
                    return Err("product_not_in_order");
                };
                if self.lines[line].2 == q {
                    return Err("quantity_unchanged");
                }
                if self.total_with(Some((p, q)), None) > i128::from(Money::MAX_ORDER_TOTAL.cents())
                {
                    return Err("order_total_too_high");
                }
                self.lines[line].2 = q;
            }
            Cmd::Confirm => {
                if !draft {
                    return Err("order_not_draft");
                }
                if self.lines.is_empty() {
                    return Err("order_has_no_items");
                }
                self.status = Confirmed;
            }
            Cmd::Ship => {
                if self.status != Confirmed {
                    return Err("order_not_confirmed");
                }
                self.status = Shipped;
            }
            Cmd::Deliver => {
                if self.status != Shipped {
                    return Err("order_not_shipped");
                }
                self.status = Delivered;
            }
            Cmd::Cancel => self.status = Cancelled,
        }
        Ok(())
    }
}

fn price() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 0i64..100_000,
        1 => (i64::MAX / 20_000)..(i64::MAX / 1_000),
        1 => (i64::MAX - 1_000)..=i64::MAX,
    ]
}

fn quantity() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..=5, 1u32..=10_000]
}

fn cmd(pool: u8) -> impl Strategy<Value = Cmd> {
    prop_oneof![
        1 => Just(Cmd::Place),
        12 => (0..pool, price(), quantity()).prop_map(|(p, pr, q)| Cmd::Add(p, pr, q)),
        3 => (0..pool).prop_map(Cmd::Remove),
        4 => (0..pool, quantity()).prop_map(|(p, q)| Cmd::Change(p, q)),
        2 => Just(Cmd::Confirm),
        2 => Just(Cmd::Ship),
        2 => Just(Cmd::Deliver),
        1 => Just(Cmd::Cancel),
    ]
}

/// Mostly orders that start with Place; some that fill up to and past the line limit.
fn order_history() -> impl Strategy<Value = Vec<Cmd>> {
    prop_oneof![
        6 => (any::<bool>(), prop::collection::vec(cmd(6), 0..60)).prop_map(|(place, tail)| {
            let mut v = if place { vec![Cmd::Place] } else { vec![] };
            v.extend(tail);
            v
        }),
        1 => ((MAX_LINES as u8 - 3)..=(MAX_LINES as u8 + 5), prop::collection::vec(cmd(110), 0..30))
            .prop_map(|(n, tail)| {
                let mut v = vec![Cmd::Place];
                v.extend((0..n).map(|p| Cmd::Add(p, 100, 1)));
                v.extend(tail);
                v
            }),
    ]
}

fn check_invariants(state: &OrderState) -> Result<(), TestCaseError> {
    prop_assert!(state.lines.len() <= MAX_LINES);
    let mut sum: i128 = 0;
    for line in &state.lines {
        let q = line.quantity.get();
        prop_assert!((1..=10_000).contains(&q));
        let expected = i128::from(line.unit_price.cents()) * i128::from(q);
        prop_assert_eq!(i128::from(line.line_total.cents()), expected);
        sum += expected;
    }
    prop_assert_eq!(i128::from(state.total.cents()), sum);
    Ok(())
}

fn round_trips<E: DomainEvent>(events: &[E]) -> Result<(), TestCaseError> {
    for e in events {
        let back = E::from_data(e.event_type(), &e.to_data());
        prop_assert_eq!(back.as_ref(), Ok(e));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn order_matches_the_model_and_keeps_invariants(cmds in order_history()) {
        let mut model = Model::default();
        let mut state = OrderState::default();
        for c in &cmds {
            let expected = model.step(c);
            let before = state.status;
            let result = Order::decide(&state, &c.to_command());
            match (&result, expected) {
                (Ok(events), Ok(())) => {
                    prop_assert!(!(state.exists && before.is_terminal()), "accepted after end");
                    round_trips(events)?;
                    state = replay_from::<Order>(state, events);
                }
                (Err(e), Err(code)) => prop_assert_eq!(e.code(), code, "{:?}", c),
                (got, want) => prop_assert!(false, "{:?}: got {:?}, model says {:?}", c, got, want),
            }
            if state.status != before {
                prop_assert!(before.can_transition_to(state.status), "{} -> {}", before, state.status);
            }
            check_invariants(&state)?;
            prop_assert_eq!(state.exists, model.exists);
            prop_assert_eq!(state.status, model.status);
            let lines: Vec<_> = state.lines.iter().map(|l| (l.product_id, l.quantity.get())).collect();
            let model_lines: Vec<_> = model.lines.iter().map(|l| (product(l.0.into()), l.2)).collect();
            prop_assert_eq!(lines, model_lines);
        }
    }

    #[test]
    fn order_snapshot_plus_tail_equals_full_replay(cmds in order_history(), at in any::<Index>()) {
        snapshot_property::<Order>(&cmds.iter().map(Cmd::to_command).collect::<Vec<_>>(), at)?;
    }

    #[test]
    fn customer_snapshot_plus_tail_equals_full_replay(
        cmds in prop::collection::vec(customer_cmd(), 0..30),
        at in any::<Index>(),
    ) {
        snapshot_property::<Customer>(&cmds, at)?;
    }

    #[test]
    fn product_snapshot_plus_tail_equals_full_replay(
        cmds in prop::collection::vec(product_cmd(), 0..30),
        at in any::<Index>(),
    ) {
        snapshot_property::<Product>(&cmds, at)?;
    }
}

fn customer_cmd() -> impl Strategy<Value = CustomerCommand> {
    let names = prop::sample::select(vec!["Ada", "Grace", "Linus"]);
    let emails = prop::sample::select(vec!["a@x.io", "b@x.io", "c@y.org"]);
    prop_oneof![
        1 => (names.clone(), emails.clone()).prop_map(|(n, e)| CustomerCommand::Register {
            customer_id: customer_id(),
            name: name(n),
            email: email(e),
        }),
        3 => names.prop_map(|n| CustomerCommand::Rename { name: name(n) }),
        3 => emails.prop_map(|e| CustomerCommand::ChangeEmail { email: email(e) }),
    ]
}

fn product_cmd() -> impl Strategy<Value = ProductCommand> {
    let names = prop::sample::select(vec!["Widget", "Gadget", "Gizmo"]);
    let prices = prop::sample::select(vec![0i64, 1, 1999, 2500]);
    prop_oneof![
        1 => (names.clone(), prices.clone(), 0..20_u32).prop_map(|(n, p, stock)| ProductCommand::Create {
            product_id: product(1),
            sku: sku("W-1"),
            name: pname(n),
            price: cents(p),
            initial_stock: units(stock),
        }),
        4 => prices.prop_map(|p| ProductCommand::Reprice { price: cents(p) }),
        3 => names.prop_map(|n| ProductCommand::Rename { name: pname(n) }),
        1 => Just(ProductCommand::Discontinue),
        3 => (0..15_u32).prop_map(|q| ProductCommand::ReceiveStock { quantity: units(q) }),
        1 => (0..30_u32).prop_map(|q| ProductCommand::CorrectStock {
            on_hand: units(q),
            reason: domain::values::Reason::parse("stocktake").expect("reason"),
        }),
        6 => (0..4_u8, 1..8_u32).prop_map(|(o, q)| ProductCommand::Reserve {
            order_id: stock_order(o),
            quantity: domain::values::Quantity::new(q).expect("qty"),
        }),
        2 => (0..4_u8).prop_map(|o| ProductCommand::Release { order_id: stock_order(o) }),
        2 => (0..4_u8).prop_map(|o| ProductCommand::Ship { order_id: stock_order(o) }),
    ]
}

fn units(n: u32) -> domain::values::StockUnits {
    domain::values::StockUnits::new(n).expect("units")
}

/// One of four fixed orders that reserve stock.
fn stock_order(n: u8) -> domain::OrderId {
    domain::OrderId::new(uuid::Uuid::from_u128(0x5_70c0_0000 + u128::from(n)))
}

proptest! {
    /// Whatever the order of restocks, counts, reservations, releases and shipments:
    /// reserved never exceeds on hand (available is never negative) and is exactly the sum of
    /// the open reservations.
    #[test]
    fn stock_is_never_oversold(cmds in prop::collection::vec(product_cmd(), 0..60)) {
        let mut state = domain::product::ProductState::default();
        for c in &cmds {
            if let Ok(events) = Product::decide(&state, c) {
                state = replay_from::<Product>(state, &events);
            }
            prop_assert!(state.reserved <= state.on_hand, "{state:?}");
            let sum: u32 = state.reservations.values().map(|q| q.get()).sum();
            prop_assert_eq!(sum, state.reserved);
        }
    }
}

/// Runs `cmds` (keeping the accepted events), snapshots at a random point through JSON, and
/// checks that the snapshot plus the remaining events gives the full replay's state.
fn snapshot_property<A: Aggregate>(cmds: &[A::Command], at: Index) -> Result<(), TestCaseError> {
    let mut state = A::State::default();
    let mut history: Vec<A::Event> = Vec::new();
    for c in cmds {
        if let Ok(events) = A::decide(&state, c) {
            state = replay_from::<A>(state, &events);
            history.extend(events);
        }
    }
    round_trips(&history)?;
    let full = replay::<A>(&history);
    prop_assert_eq!(&full, &state);
    let k = at.index(history.len() + 1);
    let snapshot = replay::<A>(&history[..k]);
    let json = serde_json::to_string(&snapshot).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let restored: A::State =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&restored, &snapshot);
    prop_assert_eq!(replay_from::<A>(restored, &history[k..]), full);
    Ok(())
}
