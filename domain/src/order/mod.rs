//! The Order aggregate: a draft that collects lines, is confirmed, shipped and delivered, and
//! can be cancelled until it is delivered.

mod command;
mod decide;
mod event;
mod evolve;
mod state;
mod status;

pub use command::{OrderCommand, PricedLine};
pub use decide::MAX_LINES;
pub use event::{
    ItemAdded, ItemQuantityChanged, ItemRemoved, OrderCancelled, OrderConfirmed, OrderDelivered,
    OrderEvent, OrderPlaced, OrderShipped,
};
pub use state::{OrderLine, OrderState};
pub use status::{OrderAction, OrderStatus};

use crate::aggregate::Aggregate;
use crate::error::DomainError;

/// The Order aggregate (a marker type; see [`Aggregate`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Order;

impl Aggregate for Order {
    type State = OrderState;
    type Command = OrderCommand;
    type Event = OrderEvent;

    const STREAM_TYPE: &'static str = "order";
    const SNAPSHOT_VERSION: i32 = 1;

    fn decide(state: &OrderState, command: &OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
        decide::decide(state, command)
    }

    fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
        evolve::evolve(state, event)
    }
}
