//! How each order event changes the state.

use crate::order::{OrderEvent, OrderLine, OrderState, OrderStatus};
use crate::values::Money;

/// See [`crate::Aggregate::evolve`].
pub(crate) fn evolve(mut state: OrderState, event: &OrderEvent) -> OrderState {
    match event {
        OrderEvent::Placed(e) => {
            state.exists = true;
            state.order_id = Some(e.order_id);
            state.customer_id = Some(e.customer_id);
            state.customer_name = Some(e.customer_name.clone());
            state.status = OrderStatus::Draft;
        }
        OrderEvent::ItemAdded(e) => {
            state.lines.push(OrderLine {
                product_id: e.product_id,
                sku: e.sku.clone(),
                product_name: e.product_name.clone(),
                unit_price: e.unit_price,
                quantity: e.quantity,
                line_total: line_total(e.unit_price, e.quantity),
            });
            state.total = recompute_total(&state.lines);
        }
        OrderEvent::ItemRemoved(e) => {
            state.lines.retain(|l| l.product_id != e.product_id);
            state.total = recompute_total(&state.lines);
        }
        OrderEvent::ItemQuantityChanged(e) => {
            if let Some(line) = state
                .lines
                .iter_mut()
                .find(|l| l.product_id == e.product_id)
            {
                line.quantity = e.quantity;
                line.line_total = line_total(line.unit_price, e.quantity);
            }
            state.total = recompute_total(&state.lines);
        }
        OrderEvent::Confirmed(_) => state.status = OrderStatus::Confirmed,
        OrderEvent::Shipped(e) => {
            state.status = OrderStatus::Shipped;
            state.carrier = Some(e.carrier.clone());
            state.tracking_number = Some(e.tracking_number.clone());
        }
        OrderEvent::Delivered(_) => state.status = OrderStatus::Delivered,
        OrderEvent::Cancelled(e) => {
            state.status = OrderStatus::Cancelled;
            state.cancel_reason = Some(e.reason.clone());
        }
    }
    state
}

/// `decide` rejected any overflow before the event existed; saturating keeps `evolve` total
/// (it cannot return an error) should a hand-made event ever get here.
fn line_total(price: Money, quantity: crate::values::Quantity) -> Money {
    price.times(quantity).unwrap_or(Money::MAX)
}

/// Recomputed rather than adjusted incrementally, so the total can never drift from the lines.
fn recompute_total(lines: &[OrderLine]) -> Money {
    lines
        .iter()
        .fold(Money::ZERO, |acc, l| acc.saturating_add(l.line_total))
}
