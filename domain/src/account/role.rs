//! Roles and what each may do: the one access policy, used by the server's application layer
//! to decide and by the browser to show only the links a user may follow.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// What a signed-in user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Places, edits and cancels their own orders; sees only their own orders and data.
    Customer,
    /// Manages products; confirms, ships and delivers any order; sees all orders, customers,
    /// the dashboard and the event log.
    Staff,
    /// Everything staff may, plus projections, dead letters, the relay and user management.
    Admin,
}

/// Something a role may or may not do. Ownership (a customer's own orders) is checked on top
/// of [`Capability::OwnOrders`] by the application layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Place, edit, confirm and cancel one's own orders; read them and their history.
    OwnOrders,
    /// Act on and read any order; place an order for any customer.
    AnyOrder,
    /// Ship and deliver orders.
    Fulfil,
    /// Read and manage every customer.
    Customers,
    /// Create, rename, reprice and discontinue products.
    Products,
    /// The dashboard and the activity feed.
    Insights,
    /// The event log: streams, events, correlations.
    EventLog,
    /// Projections, rebuilds, dead letters and the relay.
    Operations,
    /// Accounts and roles.
    Users,
    /// Erasing a customer's personal data.
    Erasure,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Self; 3] = [Self::Customer, Self::Staff, Self::Admin];

    /// Whether this role has `capability`.
    pub const fn can(self, capability: Capability) -> bool {
        match capability {
            Capability::OwnOrders => true,
            Capability::AnyOrder
            | Capability::Fulfil
            | Capability::Customers
            | Capability::Products
            | Capability::Insights
            | Capability::EventLog => matches!(self, Self::Staff | Self::Admin),
            Capability::Operations | Capability::Users | Capability::Erasure => {
                matches!(self, Self::Admin)
            }
        }
    }

    /// The role's name, e.g. `"staff"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Staff => "staff",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or(ValidationError::InvalidCharacters { field: "Role" })
    }
}
