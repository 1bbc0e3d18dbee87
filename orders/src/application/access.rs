//! Who may do what: the one place the access policy is applied, for REST, the server
//! functions and the websocket alike.
//!
//! The policy itself is `domain::account::Role::can` (shared with the browser, which shows only
//! the links a user may follow). On top of it, a customer acts only on their own orders and
//! their own customer record: ownership of an order is read from the order's own events (the
//! write model), so a just-placed order is already theirs and no read model lag can open or
//! close a door. A refusal is a 401 (not signed in) or a 403 (signed in, not allowed), writes
//! nothing (it comes before any command) and is counted (`CommandObserver::refused`).

use domain::account::Capability;
use domain::order::Order;
use domain::{CustomerId, OrderId};
use serde_json::json;

use crate::application::{AppError, AppResult, Application, ErrorKind, RequestContext};
use crate::identity::Principal;

/// Not signed in.
pub fn unauthorized() -> AppError {
    AppError::new(
        ErrorKind::Unauthorized,
        "unauthorized",
        "Sign in to do this (a session, or `Authorization: Bearer <token>`).",
    )
}

/// Signed in, not allowed.
pub fn forbidden(what: &str) -> AppError {
    AppError::new(
        ErrorKind::Forbidden,
        "forbidden",
        format!("Your account may not {what}."),
    )
}

fn capability_text(capability: Capability) -> &'static str {
    match capability {
        Capability::OwnOrders => "place orders",
        Capability::AnyOrder => "act on other customers' orders",
        Capability::Fulfil => "ship or deliver orders",
        Capability::Customers => "see or manage customers",
        Capability::Products => "manage products",
        Capability::Insights => "see the dashboard or the activity feed",
        Capability::EventLog => "browse the event log",
        Capability::Operations => "operate projections or the relay",
        Capability::Users => "manage accounts",
        Capability::Erasure => "erase personal data",
    }
}

impl RequestContext {
    /// The signed-in user, or a 401.
    pub fn signed_in(&self) -> AppResult<&Principal> {
        self.principal.as_ref().ok_or_else(unauthorized)
    }

    /// Whether an admin is signed in (the admin panel's session check).
    pub fn is_admin(&self) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.role == domain::account::Role::Admin)
    }

    /// The signed-in user if their role has `capability`; else a 401 or a 403.
    pub fn require(&self, capability: Capability) -> AppResult<&Principal> {
        let principal = self.signed_in()?;
        if principal.role.can(capability) {
            Ok(principal)
        } else {
            Err(forbidden(capability_text(capability))
                .with_details(json!({ "needs": capability, "role": principal.role })))
        }
    }
}

impl Application {
    /// Counts a refusal of `action`, then passes the result on.
    pub(crate) fn guard<T>(&self, action: &'static str, result: AppResult<T>) -> AppResult<T> {
        if let Err(e) = &result
            && matches!(e.kind, ErrorKind::Unauthorized | ErrorKind::Forbidden)
        {
            self.inner.observer.refused(action, e.code);
            tracing::info!(action, code = e.code, "refused by the access policy");
        }
        result
    }

    /// The principal if their role has `capability` (counted when refused).
    pub(crate) fn allow<'c>(
        &self,
        ctx: &'c RequestContext,
        action: &'static str,
        capability: Capability,
    ) -> AppResult<&'c Principal> {
        self.guard(action, ctx.require(capability))
    }

    /// Whether `principal` may see or act on order `order_id`: staff may on any; a customer on
    /// their own (read from the order's events). A missing order is allowed here: the use case
    /// answers its 404.
    pub(crate) async fn owns_order(
        &self,
        principal: &Principal,
        order_id: OrderId,
    ) -> AppResult<bool> {
        if principal.role.can(Capability::AnyOrder) {
            return Ok(true);
        }
        let loaded = self.commands().load::<Order>(order_id.as_uuid()).await?;
        Ok(match loaded.state.customer_id {
            None => true,
            Some(owner) => principal.customer_id == Some(owner),
        })
    }

    /// The principal if they may act on order `order_id` (see [`Self::owns_order`]).
    pub(crate) async fn allow_order<'c>(
        &self,
        ctx: &'c RequestContext,
        action: &'static str,
        order_id: OrderId,
    ) -> AppResult<&'c Principal> {
        let principal = self.allow(ctx, action, Capability::OwnOrders)?;
        if self.owns_order(principal, order_id).await? {
            Ok(principal)
        } else {
            self.guard(
                action,
                Err(forbidden("see or change another customer's order")),
            )
        }
    }

    /// The principal if they may see or change customer `customer_id`: staff any, a customer
    /// their own.
    pub(crate) fn allow_customer<'c>(
        &self,
        ctx: &'c RequestContext,
        action: &'static str,
        customer_id: CustomerId,
    ) -> AppResult<&'c Principal> {
        let principal = self.guard(action, ctx.signed_in())?;
        if principal.role.can(Capability::Customers) || principal.customer_id == Some(customer_id) {
            Ok(principal)
        } else {
            self.guard(action, Err(forbidden("see or change another customer")))
        }
    }
}
