//! How each order event changes the state. This is the order lifecycle's one definition: the
//! aggregate folds its stream through it, and so do the read models that show an order
//! (`orders::projections`), so a new event type is a change here, not in every reader.

use crate::order::{OrderEvent, OrderLine, OrderState};

/// See [`crate::Aggregate::evolve`].
pub(crate) fn evolve(mut state: OrderState, event: &OrderEvent) -> OrderState {
    state.status = state.status.after(event);
    match event {
        OrderEvent::Placed(e) => {
            state.exists = true;
            state.order_id = Some(e.order_id);
            state.customer_id = Some(e.customer_id);
            state.customer_name = Some(e.customer_name.clone());
        }
        OrderEvent::ItemAdded(e) => {
            state.lines.push(OrderLine::new(
                e.product_id,
                e.sku.clone(),
                e.product_name.clone(),
                e.unit_price,
                e.quantity,
            ));
            state.total = state.lines_total();
        }
        OrderEvent::ItemRemoved(e) => {
            state.lines.retain(|l| l.product_id != e.product_id);
            state.total = state.lines_total();
        }
        OrderEvent::ItemQuantityChanged(e) => {
            if let Some(line) = state
                .lines
                .iter_mut()
                .find(|l| l.product_id == e.product_id)
            {
                line.set_quantity(e.quantity);
            }
            state.total = state.lines_total();
        }
        OrderEvent::Confirmed(_) | OrderEvent::Delivered(_) => {}
        OrderEvent::Shipped(e) => {
            state.carrier = Some(e.carrier.clone());
            state.tracking_number = Some(e.tracking_number.clone());
        }
        OrderEvent::Cancelled(e) => {
            state.cancel_reason = Some(e.reason.clone());
        }
    }
    state
}
