//! The order use cases: place (with lines, atomically), items, confirm, ship, deliver, cancel;
//! the order list and detail, the dashboard and the activity feed (read models only).

use domain::account::Capability;
use domain::order::OrderStatus;
use domain::requests::{AddItem, CancelOrder, ChangeQuantity, ListOrders, PlaceOrder, ShipOrder};
use domain::values::{Carrier, Quantity, Reason, TrackingNumber};
use domain::views::{ActivityEntry, DashboardStats, Fresh, OrderDetail, OrderPage};
use domain::{OrderId, ProductId, ValidationError};
use uuid::Uuid;

use crate::application::{Accepted, AppResult, Application, RequestContext};
use crate::query::OrderFilter;

/// A quantity from any integer (out-of-range values get the domain's message).
pub(crate) fn quantity(value: i64) -> Result<Quantity, ValidationError> {
    let value = u32::try_from(value).map_err(|_| ValidationError::QuantityOutOfRange(value))?;
    Quantity::new(value)
}

impl Application {
    /// Places an order with its lines in one atomic append; idempotent with a key.
    pub async fn place_order(
        &self,
        ctx: &RequestContext,
        input: PlaceOrder,
    ) -> AppResult<Accepted> {
        let customer_id = domain::CustomerId::new(input.customer_id);
        let principal = self.allow(ctx, "place_order", Capability::OwnOrders)?;
        if !principal.role.can(Capability::AnyOrder) && principal.customer_id != Some(customer_id) {
            return self.guard(
                "place_order",
                Err(super::access::forbidden(
                    "place an order for another customer",
                )),
            );
        }
        let lines = input
            .lines
            .iter()
            .map(|l| Ok((ProductId::new(l.product_id), quantity(l.quantity)?)))
            .collect::<Result<Vec<_>, ValidationError>>()?;
        let order_id = input.order_id.map(OrderId::new);
        let ctx = ctx.command();
        self.command(
            "place_order",
            self.commands()
                .place_order_with_lines(order_id, customer_id, &lines, &ctx),
        )
        .await
    }

    /// Adds a product line to a draft order.
    pub async fn add_item(
        &self,
        ctx: &RequestContext,
        order_id: Uuid,
        input: AddItem,
    ) -> AppResult<Accepted> {
        self.allow_order(ctx, "add_item", OrderId::new(order_id))
            .await?;
        let quantity = quantity(input.quantity)?;
        let ctx = ctx.command();
        let product = ProductId::new(input.product_id);
        self.command(
            "add_item",
            self.commands()
                .add_item(OrderId::new(order_id), product, quantity, &ctx),
        )
        .await
    }

    /// Removes a product's line from a draft order.
    pub async fn remove_item(
        &self,
        ctx: &RequestContext,
        order_id: Uuid,
        product_id: Uuid,
    ) -> AppResult<Accepted> {
        self.allow_order(ctx, "remove_item", OrderId::new(order_id))
            .await?;
        let ctx = ctx.command();
        let product = ProductId::new(product_id);
        self.command(
            "remove_item",
            self.commands()
                .remove_item(OrderId::new(order_id), product, &ctx),
        )
        .await
    }

    /// Sets a line's quantity.
    pub async fn change_quantity(
        &self,
        ctx: &RequestContext,
        order_id: Uuid,
        product_id: Uuid,
        input: ChangeQuantity,
    ) -> AppResult<Accepted> {
        self.allow_order(ctx, "change_quantity", OrderId::new(order_id))
            .await?;
        let quantity = quantity(input.quantity)?;
        let ctx = ctx.command();
        let product = ProductId::new(product_id);
        self.command(
            "change_quantity",
            self.commands()
                .change_quantity(OrderId::new(order_id), product, quantity, &ctx),
        )
        .await
    }

    /// Confirms a draft order.
    pub async fn confirm(&self, ctx: &RequestContext, order_id: Uuid) -> AppResult<Accepted> {
        self.allow_order(ctx, "confirm", OrderId::new(order_id))
            .await?;
        let ctx = ctx.command();
        self.command(
            "confirm",
            self.commands().confirm(OrderId::new(order_id), &ctx),
        )
        .await
    }

    /// Ships a confirmed order.
    pub async fn ship(
        &self,
        ctx: &RequestContext,
        order_id: Uuid,
        input: ShipOrder,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "ship", Capability::Fulfil)?;
        let carrier = Carrier::parse(&input.carrier)?;
        let tracking = TrackingNumber::parse(&input.tracking_number)?;
        let ctx = ctx.command();
        self.command(
            "ship",
            self.commands()
                .ship(OrderId::new(order_id), carrier, tracking, &ctx),
        )
        .await
    }

    /// Marks a shipped order delivered.
    pub async fn deliver(&self, ctx: &RequestContext, order_id: Uuid) -> AppResult<Accepted> {
        self.allow(ctx, "deliver", Capability::Fulfil)?;
        let ctx = ctx.command();
        self.command(
            "deliver",
            self.commands().deliver(OrderId::new(order_id), &ctx),
        )
        .await
    }

    /// Cancels an order that is not delivered.
    pub async fn cancel(
        &self,
        ctx: &RequestContext,
        order_id: Uuid,
        input: CancelOrder,
    ) -> AppResult<Accepted> {
        self.allow_order(ctx, "cancel", OrderId::new(order_id))
            .await?;
        let reason = Reason::parse(&input.reason)?;
        let ctx = ctx.command();
        self.command(
            "cancel",
            self.commands().cancel(OrderId::new(order_id), reason, &ctx),
        )
        .await
    }

    /// A page of the order list; a customer sees only their own orders (whatever filter they
    /// ask for).
    pub async fn list_orders(
        &self,
        ctx: &RequestContext,
        input: ListOrders,
    ) -> AppResult<Fresh<OrderPage>> {
        let principal = self.allow(ctx, "list_orders", Capability::OwnOrders)?;
        let customer = if principal.role.can(Capability::AnyOrder) {
            input.customer
        } else {
            principal.customer_id.map(|c| c.as_uuid())
        };
        let status = match input.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(s.parse::<OrderStatus>()?),
        };
        let filter = OrderFilter {
            status,
            customer_id: customer,
            cursor: input.cursor,
            limit: input.limit,
        };
        Ok(self
            .queries()
            .list_orders(&filter, input.min_position)
            .await?)
    }

    /// One order with its lines (its customer's, or any for staff).
    pub async fn order(
        &self,
        ctx: &RequestContext,
        id: Uuid,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<OrderDetail>> {
        self.allow_order(ctx, "order", OrderId::new(id)).await?;
        Ok(self.queries().get_order(id, min_position).await?)
    }

    /// The dashboard figures.
    pub async fn dashboard(
        &self,
        ctx: &RequestContext,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<DashboardStats>> {
        self.allow(ctx, "dashboard", Capability::Insights)?;
        Ok(self.queries().dashboard(None, min_position).await?)
    }

    /// The activity feed, newest first.
    pub async fn activity(
        &self,
        ctx: &RequestContext,
        limit: Option<u32>,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<Vec<ActivityEntry>>> {
        self.allow(ctx, "activity", Capability::Insights)?;
        Ok(self.queries().activity(limit, min_position).await?)
    }
}
