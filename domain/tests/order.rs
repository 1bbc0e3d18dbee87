//! Given/when/then tests for every Order command and rule.

mod common;

use common::*;
use domain::order::*;
use domain::testing::given;
use domain::values::Money;
use domain::{Aggregate, DomainError, replay};

fn add(n: u128, price: i64, q: u32) -> OrderCommand {
    OrderCommand::AddItem {
        product_id: product(n),
        sku: sku(&format!("SKU-{n}")),
        product_name: pname(&format!("Product {n}")),
        unit_price: cents(price),
        quantity: qty(q),
    }
}

fn cancel() -> OrderCommand {
    OrderCommand::Cancel {
        reason: reason("Changed my mind"),
    }
}

fn ship() -> OrderCommand {
    OrderCommand::Ship {
        carrier: carrier("DHL"),
        tracking_number: tracking("1Z999"),
    }
}

fn cancelled(from: OrderStatus) -> OrderEvent {
    OrderCancelled {
        reason: reason("Changed my mind"),
        previous_status: from,
    }
    .into()
}

fn draft_with_item() -> Vec<OrderEvent> {
    vec![placed(), item_added(1, 1999, 2)]
}

fn confirmed_order() -> Vec<OrderEvent> {
    let mut h = draft_with_item();
    h.push(confirmed(3998, 1, 2));
    h
}

fn shipped_order() -> Vec<OrderEvent> {
    let mut h = confirmed_order();
    h.push(shipped());
    h
}

fn delivered_order() -> Vec<OrderEvent> {
    let mut h = shipped_order();
    h.push(OrderDelivered {}.into());
    h
}

fn cancelled_order() -> Vec<OrderEvent> {
    let mut h = draft_with_item();
    h.push(cancelled(OrderStatus::Draft));
    h
}

fn every_non_place_command() -> Vec<OrderCommand> {
    vec![
        add(9, 100, 1),
        OrderCommand::RemoveItem {
            product_id: product(1),
        },
        OrderCommand::ChangeQuantity {
            product_id: product(1),
            quantity: qty(5),
        },
        OrderCommand::Confirm,
        ship(),
        OrderCommand::MarkDelivered,
        cancel(),
    ]
}

// ----- Place -----

#[test]
fn place_opens_a_draft() {
    let state = given::<Order>([])
        .when(OrderCommand::Place {
            order_id: order_id(),
            customer_id: customer_id(),
            customer_name: name("Ada Lovelace"),
        })
        .then_expect_events(vec![placed()]);
    assert!(state.exists);
    assert_eq!(state.status, OrderStatus::Draft);
    assert_eq!(state.order_id, Some(order_id()));
    assert_eq!(state.customer_id, Some(customer_id()));
    assert_eq!(state.total, Money::ZERO);
}

#[test]
fn place_twice_is_rejected() {
    given::<Order>([placed()])
        .when(OrderCommand::Place {
            order_id: order_id(),
            customer_id: customer_id(),
            customer_name: name("Ada Lovelace"),
        })
        .then_expect_error(DomainError::OrderAlreadyExists);
}

#[test]
fn every_command_on_a_missing_order_is_rejected() {
    for cmd in every_non_place_command() {
        given::<Order>([])
            .when(cmd)
            .then_expect_error("order_not_found");
    }
}

// ----- AddItem -----

#[test]
fn add_item_adds_a_line_and_updates_the_total() {
    let state = given::<Order>([placed()])
        .when(add(1, 1999, 2))
        .then_expect_events(vec![item_added(1, 1999, 2)]);
    assert_eq!(state.lines.len(), 1);
    assert_eq!(state.lines[0].line_total, cents(3998));
    assert_eq!(state.total, cents(3998));
}

#[test]
fn add_item_keeps_lines_in_order_and_sums_totals() {
    let state = replay::<Order>(&[placed(), item_added(2, 500, 3), item_added(1, 250, 1)]);
    let ids: Vec<_> = state.lines.iter().map(|l| l.product_id).collect();
    assert_eq!(ids, vec![product(2), product(1)]);
    assert_eq!(state.total, cents(1750));
    assert_eq!(state.item_count(), 4);
}

#[test]
fn add_item_twice_for_the_same_product_is_rejected() {
    given::<Order>(draft_with_item())
        .when(add(1, 1999, 1))
        .then_expect_error(DomainError::ProductAlreadyInOrder {
            product_id: product(1),
        });
}

#[test]
fn add_item_beyond_max_lines_is_rejected() {
    let mut history = vec![placed()];
    history.extend((0..MAX_LINES as u128).map(|n| item_added(n, 100, 1)));
    given::<Order>(history.clone())
        .when(add(500, 100, 1))
        .then_expect_error(DomainError::TooManyOrderLines { max: 100 });
    // One fewer line still fits.
    history.pop();
    given::<Order>(history)
        .when(add(500, 100, 1))
        .then_expect_events(vec![item_added(500, 100, 1)]);
}

#[test]
fn add_item_whose_line_total_overflows_is_rejected() {
    given::<Order>([placed()])
        .when(add(1, i64::MAX / 2, 3))
        .then_expect_error("order_total_too_high");
}

/// The documented maximum order total (`Money::MAX_ORDER_TOTAL`) is enforced: reaching it is
/// fine, one cent more is refused with a 4xx-class rejection. (This used to pin that totals up
/// to `i64::MAX` were accepted, which let one order break the dashboard's sums.)
#[test]
fn add_item_above_the_maximum_order_total_is_rejected() {
    let max = Money::MAX_ORDER_TOTAL.cents();
    let refused = DomainError::OrderTotalTooHigh {
        max: Money::MAX_ORDER_TOTAL,
    };
    assert!(refused.is_rejection());
    assert_eq!(
        refused.to_string(),
        "An order total can be at most 1000000000000.00; this change would exceed it."
    );
    given::<Order>([placed(), item_added(1, max - 10, 1)])
        .when(add(2, 11, 1))
        .then_expect_error("order_total_too_high");
    // Exactly at the limit is fine.
    given::<Order>([placed(), item_added(1, max - 10, 1)])
        .when(add(2, 10, 1))
        .then_expect_events(vec![item_added(2, 10, 1)]);
    // Far below i64::MAX, but above the maximum: refused (it used to be accepted).
    given::<Order>([placed(), item_added(1, max, 1)])
        .when(add(2, i64::MAX / 4, 1))
        .then_expect_error(refused.clone());
    // An order holding a legacy line above the maximum takes nothing more.
    given::<Order>([placed(), item_added(1, i64::MAX - 10, 1)])
        .when(add(2, 1, 1))
        .then_expect_error(refused);
}

#[test]
fn change_quantity_above_the_maximum_order_total_is_rejected() {
    let max = Money::MAX_ORDER_TOTAL.cents();
    given::<Order>([placed(), item_added(1, max / 4, 1)])
        .when(OrderCommand::ChangeQuantity {
            product_id: product(1),
            quantity: qty(5),
        })
        .then_expect_error("order_total_too_high");
    given::<Order>([placed(), item_added(1, max / 4, 1)])
        .when(OrderCommand::ChangeQuantity {
            product_id: product(1),
            quantity: qty(4),
        })
        .then_expect_events(vec![
            ItemQuantityChanged {
                product_id: product(1),
                quantity: qty(4),
            }
            .into(),
        ]);
}

#[test]
fn add_item_outside_draft_is_rejected() {
    given::<Order>(confirmed_order())
        .when(add(2, 100, 1))
        .then_expect_error(DomainError::OrderNotDraft {
            status: OrderStatus::Confirmed,
        });
    given::<Order>(shipped_order())
        .when(add(2, 100, 1))
        .then_expect_error("order_not_draft");
}

#[test]
fn free_items_are_allowed() {
    given::<Order>([placed()])
        .when(add(1, 0, 3))
        .then_expect_events(vec![item_added(1, 0, 3)]);
}

// ----- RemoveItem -----

#[test]
fn remove_item_removes_the_line_and_its_total() {
    let state = given::<Order>([placed(), item_added(1, 1999, 2), item_added(2, 100, 1)])
        .when(OrderCommand::RemoveItem {
            product_id: product(1),
        })
        .then_expect_events(vec![
            ItemRemoved {
                product_id: product(1),
            }
            .into(),
        ]);
    assert_eq!(state.lines.len(), 1);
    assert_eq!(state.total, cents(100));
}

#[test]
fn remove_item_not_in_order_is_rejected() {
    given::<Order>(draft_with_item())
        .when(OrderCommand::RemoveItem {
            product_id: product(7),
        })
        .then_expect_error(DomainError::ProductNotInOrder {
            product_id: product(7),
        });
}

#[test]
fn remove_item_outside_draft_is_rejected() {
    given::<Order>(confirmed_order())
        .when(OrderCommand::RemoveItem {
            product_id: product(1),
        })
        .then_expect_error("order_not_draft");
}

// ----- ChangeQuantity -----

#[test]
fn change_quantity_updates_line_and_total() {
    let state = given::<Order>(draft_with_item())
        .when(OrderCommand::ChangeQuantity {
            product_id: product(1),
            quantity: qty(5),
        })
        .then_expect_events(vec![
            ItemQuantityChanged {
                product_id: product(1),
                quantity: qty(5),
            }
            .into(),
        ]);
    assert_eq!(state.lines[0].quantity, qty(5));
    assert_eq!(state.lines[0].line_total, cents(9995));
    assert_eq!(state.total, cents(9995));
}

#[test]
fn change_quantity_to_the_same_value_is_rejected() {
    given::<Order>(draft_with_item())
        .when(OrderCommand::ChangeQuantity {
            product_id: product(1),
            quantity: qty(2),
        })
        .then_expect_error(DomainError::QuantityUnchanged { quantity: 2 });
}

#[test]
fn change_quantity_of_missing_product_is_rejected() {
    given::<Order>(draft_with_item())
        .when(OrderCommand::ChangeQuantity {
            product_id: product(3),
            quantity: qty(2),
        })
        .then_expect_error("product_not_in_order");
}

#[test]
fn change_quantity_that_overflows_is_rejected() {
    given::<Order>([placed(), item_added(1, i64::MAX / 4, 1)])
        .when(OrderCommand::ChangeQuantity {
            product_id: product(1),
            quantity: qty(5),
        })
        .then_expect_error("order_total_too_high");
}

#[test]
fn change_quantity_outside_draft_is_rejected() {
    given::<Order>(shipped_order())
        .when(OrderCommand::ChangeQuantity {
            product_id: product(1),
            quantity: qty(3),
        })
        .then_expect_error(DomainError::OrderNotDraft {
            status: OrderStatus::Shipped,
        });
}

#[test]
fn quantities_out_of_range_cannot_even_be_built() {
    assert_eq!(
        domain::values::Quantity::new(0).unwrap_err().code(),
        "quantity_out_of_range"
    );
    assert!(domain::values::Quantity::new(10_001).is_err());
    assert!(domain::values::Quantity::new(10_000).is_ok());
}

// ----- Confirm -----

#[test]
fn confirm_carries_total_and_counts() {
    let state = given::<Order>([placed(), item_added(1, 1999, 2), item_added(2, 1, 3)])
        .when(OrderCommand::Confirm)
        .then_expect_events(vec![confirmed(4001, 2, 5)]);
    assert_eq!(state.status, OrderStatus::Confirmed);
}

#[test]
fn confirm_without_items_is_rejected() {
    given::<Order>([placed()])
        .when(OrderCommand::Confirm)
        .then_expect_error(DomainError::OrderHasNoItems);
    // Removing the last item empties the order again.
    given::<Order>([
        placed(),
        item_added(1, 5, 1),
        ItemRemoved {
            product_id: product(1),
        }
        .into(),
    ])
    .when(OrderCommand::Confirm)
    .then_expect_error("order_has_no_items");
}

#[test]
fn confirm_twice_is_rejected() {
    given::<Order>(confirmed_order())
        .when(OrderCommand::Confirm)
        .then_expect_error(DomainError::OrderNotDraft {
            status: OrderStatus::Confirmed,
        });
}

// ----- Ship -----

#[test]
fn ship_records_carrier_and_tracking() {
    let state = given::<Order>(confirmed_order())
        .when(ship())
        .then_expect_events(vec![shipped()]);
    assert_eq!(state.status, OrderStatus::Shipped);
    assert_eq!(state.carrier, Some(carrier("DHL")));
    assert_eq!(state.tracking_number, Some(tracking("1Z999")));
}

#[test]
fn ship_requires_confirmed() {
    given::<Order>(draft_with_item())
        .when(ship())
        .then_expect_error(DomainError::OrderNotConfirmed {
            status: OrderStatus::Draft,
        });
    given::<Order>(shipped_order())
        .when(ship())
        .then_expect_error(DomainError::OrderNotConfirmed {
            status: OrderStatus::Shipped,
        });
}

// ----- MarkDelivered -----

#[test]
fn mark_delivered_finishes_a_shipped_order() {
    let state = given::<Order>(shipped_order())
        .when(OrderCommand::MarkDelivered)
        .then_expect_events(vec![OrderDelivered {}.into()]);
    assert_eq!(state.status, OrderStatus::Delivered);
}

#[test]
fn mark_delivered_requires_shipped() {
    given::<Order>(draft_with_item())
        .when(OrderCommand::MarkDelivered)
        .then_expect_error(DomainError::OrderNotShipped {
            status: OrderStatus::Draft,
        });
    given::<Order>(confirmed_order())
        .when(OrderCommand::MarkDelivered)
        .then_expect_error("order_not_shipped");
}

// ----- Cancel -----

#[test]
fn cancel_is_allowed_from_draft_confirmed_and_shipped() {
    for (history, from) in [
        (draft_with_item(), OrderStatus::Draft),
        (confirmed_order(), OrderStatus::Confirmed),
        (shipped_order(), OrderStatus::Shipped),
    ] {
        let state = given::<Order>(history)
            .when(cancel())
            .then_expect_events(vec![cancelled(from)]);
        assert_eq!(state.status, OrderStatus::Cancelled);
        assert_eq!(state.cancel_reason, Some(reason("Changed my mind")));
    }
}

#[test]
fn nothing_is_accepted_after_cancel() {
    for cmd in every_non_place_command() {
        given::<Order>(cancelled_order())
            .when(cmd)
            .then_expect_error(DomainError::OrderCancelled);
    }
}

#[test]
fn nothing_is_accepted_after_delivery() {
    for cmd in every_non_place_command() {
        given::<Order>(delivered_order())
            .when(cmd)
            .then_expect_error(DomainError::OrderDelivered);
    }
}

#[test]
fn place_on_a_finished_order_is_still_already_exists() {
    given::<Order>(cancelled_order())
        .when(OrderCommand::Place {
            order_id: order_id(),
            customer_id: customer_id(),
            customer_name: name("Ada"),
        })
        .then_expect_error("order_already_exists");
}

// ----- Status and actions -----

#[test]
fn allowed_actions_agree_with_decide() {
    // For every reachable status, an action is listed iff some command of that kind can be
    // accepted (the order used has one line, so Confirm is possible).
    for history in [
        draft_with_item(),
        confirmed_order(),
        shipped_order(),
        delivered_order(),
        cancelled_order(),
    ] {
        let state = replay::<Order>(&history);
        for cmd in every_non_place_command() {
            let action = cmd.action().unwrap();
            let accepted = Order::decide(&state, &cmd).is_ok();
            assert_eq!(
                accepted,
                state.status.allows(action),
                "{action} in {}",
                state.status
            );
        }
    }
}

#[test]
fn status_parses_displays_and_serializes_as_snake_case() {
    for status in OrderStatus::ALL {
        let text = status.to_string();
        assert_eq!(text.parse::<OrderStatus>(), Ok(status));
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            serde_json::json!(text)
        );
    }
    assert_eq!("Shipped".parse::<OrderStatus>(), Ok(OrderStatus::Shipped));
    assert_eq!(
        "lost".parse::<OrderStatus>().unwrap_err().code(),
        "order_status_unknown"
    );
    assert_eq!(OrderStatus::Draft.label(), "Draft");
    assert_eq!(
        serde_json::to_value(OrderAction::MarkDelivered).unwrap(),
        serde_json::json!("mark_delivered")
    );
}

#[test]
fn transitions_are_exactly_the_lifecycle() {
    use OrderStatus::*;
    let legal = [
        (Draft, Confirmed),
        (Confirmed, Shipped),
        (Shipped, Delivered),
        (Draft, Cancelled),
        (Confirmed, Cancelled),
        (Shipped, Cancelled),
    ];
    for from in OrderStatus::ALL {
        for to in OrderStatus::ALL {
            assert_eq!(from.can_transition_to(to), legal.contains(&(from, to)));
        }
        assert_eq!(from.is_terminal(), from.allowed_actions().is_empty());
    }
}

#[test]
fn stream_ids_are_prefixed_with_the_stream_type() {
    let id = order_id().as_uuid();
    let stream = Order::stream_id(id);
    assert_eq!(stream, format!("order-{id}"));
    assert_eq!(domain::parse_stream_id::<Order>(&stream), Some(id));
    assert_eq!(domain::parse_stream_id::<Order>("customer-x"), None);
}

#[test]
fn execute_returns_events_and_next_state() {
    let state = replay::<Order>(&draft_with_item());
    let (events, next) = domain::execute::<Order>(&state, &OrderCommand::Confirm).unwrap();
    assert_eq!(events, vec![confirmed(3998, 1, 2)]);
    assert_eq!(next.status, OrderStatus::Confirmed);
}
