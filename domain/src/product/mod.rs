//! The Product aggregate: a sellable item with a SKU, a name and a price, until discontinued,
//! and its stock: units on hand, and the units confirmed orders have reserved. Available (on
//! hand minus reserved) is never negative: a reservation is only decided against the
//! product's current state and appended with its exact version (see `crate::stock`).

mod command;
mod decide;
mod event;
mod evolve;
mod state;

pub use command::ProductCommand;
pub use event::{
    ProductCreated, ProductDiscontinued, ProductEvent, ProductRenamed, ProductRepriced,
    StockCorrected, StockReceived, StockReleased, StockReserved, StockShipped,
};
pub use state::ProductState;

use crate::aggregate::Aggregate;
use crate::error::DomainError;

/// The Product aggregate (a marker type; see [`Aggregate`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Product;

impl Aggregate for Product {
    type State = ProductState;
    type Command = ProductCommand;
    type Event = ProductEvent;

    const STREAM_TYPE: &'static str = "product";
    // 2: the state holds stock (on hand, reserved, reservations).
    const SNAPSHOT_VERSION: i32 = 2;

    fn decide(
        state: &ProductState,
        command: &ProductCommand,
    ) -> Result<Vec<ProductEvent>, DomainError> {
        decide::decide(state, command)
    }

    fn evolve(state: ProductState, event: &ProductEvent) -> ProductState {
        evolve::evolve(state, event)
    }
}
