//! What callers can ask of a customer.

use crate::ids::CustomerId;
use crate::values::{CustomerName, Email, Reason};

/// A command to the Customer aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerCommand {
    /// Registers a new customer.
    Register {
        /// The new customer's id.
        customer_id: CustomerId,
        /// Their name.
        name: CustomerName,
        /// Their email address.
        email: Email,
    },
    /// Changes a registered customer's name.
    Rename {
        /// The new name.
        name: CustomerName,
    },
    /// Changes a registered customer's email address.
    ChangeEmail {
        /// The new address.
        email: Email,
    },
    /// Erases the customer's personal data (the application deletes their data key).
    Erase {
        /// Why.
        reason: Reason,
    },
}
