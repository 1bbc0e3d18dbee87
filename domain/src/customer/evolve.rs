//! How each customer event changes the state.

use crate::customer::{CustomerEvent, CustomerState};
use crate::values::{CustomerName, ERASED, Email};

/// See [`crate::Aggregate::evolve`].
pub(crate) fn evolve(mut state: CustomerState, event: &CustomerEvent) -> CustomerState {
    match event {
        CustomerEvent::Registered(e) => {
            state.exists = true;
            state.customer_id = Some(e.customer_id);
            state.name = Some(e.name.clone());
            state.email = Some(e.email.clone());
        }
        CustomerEvent::Renamed(e) => state.name = Some(e.name.clone()),
        CustomerEvent::EmailChanged(e) => state.email = Some(e.email.clone()),
        CustomerEvent::Erased(_) => {
            state.erased = true;
            state.name = CustomerName::parse(ERASED).ok();
            state.email = Some(Email::erased());
        }
    }
    state
}
