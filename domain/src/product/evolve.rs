//! How each product event changes the state.

use crate::product::{ProductEvent, ProductState};

/// See [`crate::Aggregate::evolve`].
pub(crate) fn evolve(mut state: ProductState, event: &ProductEvent) -> ProductState {
    match event {
        ProductEvent::Created(e) => {
            state.exists = true;
            state.product_id = Some(e.product_id);
            state.sku = Some(e.sku.clone());
            state.name = Some(e.name.clone());
            state.price = e.price;
        }
        ProductEvent::Repriced(e) => state.price = e.price,
        ProductEvent::Renamed(e) => state.name = Some(e.name.clone()),
        ProductEvent::Discontinued(_) => state.discontinued = true,
        ProductEvent::StockReceived(e) => {
            state.on_hand = state.on_hand.saturating_add(e.quantity.get());
        }
        ProductEvent::StockCorrected(e) => state.on_hand = e.on_hand.get(),
        ProductEvent::StockReserved(e) => {
            state.reserved = state.reserved.saturating_add(e.quantity.get());
            state.reservations.insert(e.order_id, e.quantity);
        }
        ProductEvent::StockReleased(e) => {
            state.reserved = state.reserved.saturating_sub(e.quantity.get());
            state.reservations.remove(&e.order_id);
        }
        ProductEvent::StockShipped(e) => {
            state.reserved = state.reserved.saturating_sub(e.quantity.get());
            state.on_hand = state.on_hand.saturating_sub(e.quantity.get());
            state.reservations.remove(&e.order_id);
        }
    }
    state
}
