//! What can happen to a customer.

use serde::{Deserialize, Serialize};

use crate::ids::CustomerId;
use crate::values::{CustomerName, Email, Reason};

/// A customer was registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRegistered {
    /// The customer.
    pub customer_id: CustomerId,
    /// Their name.
    pub name: CustomerName,
    /// Their email address.
    pub email: Email,
}

/// A customer's name changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRenamed {
    /// The new name.
    pub name: CustomerName,
}

/// A customer's email address changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerEmailChanged {
    /// The new address.
    pub email: Email,
}

/// The customer's personal data was erased (GDPR art. 17): their data key is deleted, so every
/// copy of their sealed fields reads as [`crate::values::ERASED`] from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerErased {
    /// Why (the request it answers).
    pub reason: Reason,
}

event_enum! {
    /// Every event of the Customer aggregate.
    CustomerEvent {
        /// See [`CustomerRegistered`].
        Registered(CustomerRegistered) = ("CustomerRegistered", 1),
        /// See [`CustomerRenamed`].
        Renamed(CustomerRenamed) = ("CustomerRenamed", 1),
        /// See [`CustomerEmailChanged`].
        EmailChanged(CustomerEmailChanged) = ("CustomerEmailChanged", 1),
        /// See [`CustomerErased`].
        Erased(CustomerErased) = ("CustomerErased", 1),
    }
}
