//! What a customer's events fold into.

use serde::{Deserialize, Serialize};

use crate::ids::CustomerId;
use crate::values::{CustomerName, Email};

/// The current state of one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerState {
    /// Whether the customer has been registered.
    pub exists: bool,
    /// Set once registered.
    pub customer_id: Option<CustomerId>,
    /// Set once registered.
    pub name: Option<CustomerName>,
    /// Set once registered.
    pub email: Option<Email>,
    /// Their personal data was erased: no command but reads applies any more.
    #[serde(default)]
    pub erased: bool,
}
