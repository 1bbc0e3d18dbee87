//! The Customer aggregate's rules.

use crate::customer::{
    CustomerCommand, CustomerEmailChanged, CustomerErased, CustomerEvent, CustomerRegistered,
    CustomerRenamed, CustomerState,
};
use crate::error::DomainError;

/// See [`crate::Aggregate::decide`].
pub(crate) fn decide(
    state: &CustomerState,
    command: &CustomerCommand,
) -> Result<Vec<CustomerEvent>, DomainError> {
    let event: CustomerEvent = match command {
        CustomerCommand::Register {
            customer_id,
            name,
            email,
        } => {
            if state.exists {
                return Err(DomainError::CustomerAlreadyRegistered);
            }
            CustomerRegistered {
                customer_id: *customer_id,
                name: name.clone(),
                email: email.clone(),
            }
            .into()
        }
        CustomerCommand::Rename { name } => {
            require_exists(state)?;
            // A no-op would add an event that changes nothing; tell the user instead.
            if state.name.as_ref() == Some(name) {
                return Err(DomainError::CustomerNameUnchanged);
            }
            CustomerRenamed { name: name.clone() }.into()
        }
        CustomerCommand::ChangeEmail { email } => {
            require_exists(state)?;
            if state.email.as_ref() == Some(email) {
                return Err(DomainError::CustomerEmailUnchanged);
            }
            CustomerEmailChanged {
                email: email.clone(),
            }
            .into()
        }
        CustomerCommand::Erase { reason } => {
            require_exists(state)?;
            CustomerErased {
                reason: reason.clone(),
            }
            .into()
        }
    };
    Ok(vec![event])
}

/// The customer exists and their data was not erased (nothing more can happen to them).
fn require_exists(state: &CustomerState) -> Result<(), DomainError> {
    if !state.exists {
        Err(DomainError::CustomerNotFound)
    } else if state.erased {
        Err(DomainError::CustomerErased)
    } else {
        Ok(())
    }
}
