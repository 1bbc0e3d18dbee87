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
    }
    state
}
