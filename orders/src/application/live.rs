//! Who receives which live change: the websocket's part of the access policy.
//!
//! Staff and admins receive every change of the topics their role may subscribe to. A customer
//! (or an anonymous client) receives product changes and changes about their own orders and
//! customer record only, with every other stream removed from the change, so a websocket never
//! tells a customer that another customer's order moved.

use std::collections::HashMap;

use domain::OrderId;
use domain::account::Capability;
use domain::ids::{StreamId, StreamKind};
use domain::live::{Change, ProjectionName, Topic};

use crate::application::Application;
use crate::identity::Principal;

/// Streams kept in a customer's ownership cache before it is cleared.
const MAX_CACHED: usize = 10_000;

/// What one websocket may see.
#[derive(Debug, Clone, Default)]
pub struct LiveAccess {
    principal: Option<Principal>,
    /// Order streams looked up: whether they are this customer's (ownership never changes).
    owned: HashMap<String, bool>,
}

/// Whether a change goes to the client, and in which form.
#[derive(Debug, Clone, PartialEq)]
pub enum Visible {
    /// As published.
    All,
    /// With only the client's own streams.
    Narrowed(Change),
    /// Not at all.
    Hidden,
}

impl LiveAccess {
    /// The access of a websocket opened by `principal` (`None`: anonymous).
    pub fn new(principal: Option<Principal>) -> Self {
        Self {
            principal,
            owned: HashMap::new(),
        }
    }

    fn can(&self, capability: Capability) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.role.can(capability))
    }
}

impl Application {
    /// Whether the client may subscribe to `topic`.
    pub async fn may_subscribe(&self, access: &mut LiveAccess, topic: &Topic) -> bool {
        match topic {
            Topic::Products => true,
            Topic::Dashboard | Topic::Activity => access.can(Capability::Insights),
            Topic::Customers => access.can(Capability::Customers),
            Topic::Users => access.can(Capability::Users),
            Topic::Projections | Topic::Relay => access.can(Capability::Operations),
            Topic::Stats => access.can(Capability::EventLog),
            Topic::Orders => access.can(Capability::OwnOrders),
            Topic::Order { id } => {
                self.owns_stream(access, &StreamId::order(OrderId::new(*id)).to_string())
                    .await
            }
            Topic::Stream { id } => {
                access.can(Capability::EventLog) || self.owns_stream(access, id).await
            }
        }
    }

    /// How `change` may reach the client (see the module doc).
    pub async fn visible_change(&self, access: &mut LiveAccess, change: &Change) -> Visible {
        if access.can(Capability::AnyOrder) || change.projection == ProjectionName::Products {
            return Visible::All;
        }
        let mut streams = Vec::new();
        for stream in &change.streams {
            if self.owns_stream(access, stream).await {
                streams.push(stream.clone());
            }
        }
        if streams.is_empty() {
            Visible::Hidden
        } else if streams.len() == change.streams.len() {
            Visible::All
        } else {
            Visible::Narrowed(Change {
                streams,
                ..change.clone()
            })
        }
    }

    /// Whether `stream` is the signed-in customer's order or customer record.
    async fn owns_stream(&self, access: &mut LiveAccess, stream: &str) -> bool {
        let Some(principal) = access.principal.clone() else {
            return false;
        };
        if principal.role.can(Capability::AnyOrder) {
            return true;
        }
        match StreamId::parse(stream) {
            Some(s) if s.kind() == StreamKind::Customer => {
                principal.customer_id.map(|c| c.as_uuid()) == Some(s.id())
            }
            Some(s) if s.kind() == StreamKind::Order => {
                if let Some(known) = access.owned.get(stream) {
                    return *known;
                }
                // A missing order counts as not theirs here (unlike commands, nothing follows
                // that would answer 404).
                let owned = match self.commands().load::<domain::order::Order>(s.id()).await {
                    Ok(loaded) => {
                        loaded.state.customer_id.is_some()
                            && loaded.state.customer_id == principal.customer_id
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "ownership lookup for a live change failed");
                        return false;
                    }
                };
                if access.owned.len() >= MAX_CACHED {
                    access.owned.clear();
                }
                access.owned.insert(stream.to_owned(), owned);
                owned
            }
            _ => false,
        }
    }
}
