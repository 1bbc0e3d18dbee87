//! The Customer aggregate: a registered person with a name and an email address.

mod command;
mod decide;
mod event;
mod evolve;
mod state;

pub use command::CustomerCommand;
pub use event::{
    CustomerEmailChanged, CustomerErased, CustomerEvent, CustomerRegistered, CustomerRenamed,
};
pub use state::CustomerState;

use crate::aggregate::Aggregate;
use crate::error::DomainError;

/// The Customer aggregate (a marker type; see [`Aggregate`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Customer;

impl Aggregate for Customer {
    type State = CustomerState;
    type Command = CustomerCommand;
    type Event = CustomerEvent;

    const STREAM_TYPE: &'static str = "customer";
    const SNAPSHOT_VERSION: i32 = 1;

    fn decide(
        state: &CustomerState,
        command: &CustomerCommand,
    ) -> Result<Vec<CustomerEvent>, DomainError> {
        decide::decide(state, command)
    }

    fn evolve(state: CustomerState, event: &CustomerEvent) -> CustomerState {
        evolve::evolve(state, event)
    }
}
