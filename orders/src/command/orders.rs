//! The Order use cases of the command service: each loads what the command needs from other
//! aggregates (the customer's name, the products' details), after the idempotency check, and
//! runs the generic path of `engine.rs`.

use domain::customer::Customer;
use domain::order::{Order, OrderCommand, OrderEvent, PricedLine};
use domain::product::Product;
use domain::values::{Carrier, Quantity, Reason, TrackingNumber};
use domain::{Aggregate, CustomerId, DomainError, OrderId, ProductId};
use uuid::Uuid;

use crate::command::error::{CommandError, CommandResult};
use crate::command::identity::{self, RequestIdentity};
use crate::command::metadata::CommandContext;
use crate::command::plan::{CommandPlan, NoPlan};
use crate::command::service::{CommandOutcome, CommandService, new_id};
use crate::command::stock::StockPlan;

impl CommandService {
    /// Opens a draft order for an existing customer (its current name is copied into the
    /// order). Without `order_id`, the id is derived from the idempotency key if there is one
    /// (a retry opens the same order), else a new UUID v7.
    pub async fn place_order(
        &self,
        order_id: Option<OrderId>,
        customer_id: CustomerId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.place_order_with_lines(order_id, customer_id, &[], ctx)
            .await
    }

    /// Opens a draft order with its lines in one command and one atomic append (`OrderPlaced`
    /// and one `ItemAdded` per line): if the customer or any product does not exist, a product
    /// is discontinued or a line breaks a rule, nothing is written. Ids as in
    /// [`place_order`](Self::place_order).
    pub async fn place_order_with_lines(
        &self,
        order_id: Option<OrderId>,
        customer_id: CustomerId,
        lines: &[(ProductId, Quantity)],
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let order_id = OrderId::new(new_id::<Order>(order_id.map(Uuid::from), ctx));
        let request = identity::place_order(customer_id, lines);
        let command = async move {
            let customer = self.load::<Customer>(customer_id.as_uuid()).await?;
            // An erased customer orders nothing more (their name could not be sealed anyway).
            if customer.state.erased {
                return Err(CommandError::Domain(DomainError::CustomerErased));
            }
            let (true, Some(customer_name)) = (customer.state.exists, customer.state.name) else {
                return Err(CommandError::NotFound {
                    kind: Customer::STREAM_TYPE,
                    id: customer_id.as_uuid(),
                });
            };
            let mut priced = Vec::with_capacity(lines.len());
            for (product_id, quantity) in lines {
                priced.push(self.priced_line(*product_id, *quantity).await?);
            }
            Ok(OrderCommand::PlaceWithLines {
                order_id,
                customer_id,
                customer_name,
                lines: priced,
            })
        };
        self.execute_request::<Order, _>("place_order", order_id.as_uuid(), request, ctx, command)
            .await
    }

    /// Adds `quantity` units of an existing, not discontinued product to a draft order, at the
    /// product's current price, SKU and name.
    pub async fn add_item(
        &self,
        order_id: OrderId,
        product_id: ProductId,
        quantity: Quantity,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let request = identity::add_item(product_id, quantity);
        let command = async move { Ok(self.priced_line(product_id, quantity).await?.add_item()) };
        self.execute_request::<Order, _>("add_item", order_id.as_uuid(), request, ctx, command)
            .await
    }

    /// A line of `quantity` units of `product_id` at its current details; the product must
    /// exist and be on sale.
    async fn priced_line(
        &self,
        product_id: ProductId,
        quantity: Quantity,
    ) -> CommandResult<PricedLine> {
        let product = self.load::<Product>(product_id.as_uuid()).await?.state;
        let not_found = || CommandError::NotFound {
            kind: Product::STREAM_TYPE,
            id: product_id.as_uuid(),
        };
        if !product.exists {
            return Err(not_found());
        }
        if product.discontinued {
            return Err(DomainError::ProductDiscontinued.into());
        }
        let (Some(sku), Some(product_name)) = (product.sku, product.name) else {
            return Err(not_found());
        };
        Ok(PricedLine {
            product_id,
            sku,
            product_name,
            unit_price: product.price,
            quantity,
        })
    }

    /// Removes a product's line from a draft order.
    pub async fn remove_item(
        &self,
        order_id: OrderId,
        product_id: ProductId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let command = OrderCommand::RemoveItem { product_id };
        self.order(order_id, command, "remove_item", ctx).await
    }

    /// Sets the quantity of a line of a draft order.
    pub async fn change_quantity(
        &self,
        order_id: OrderId,
        product_id: ProductId,
        quantity: Quantity,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let command = OrderCommand::ChangeQuantity {
            product_id,
            quantity,
        };
        self.order(order_id, command, "change_quantity", ctx).await
    }

    /// Confirms a draft order with at least one line.
    pub async fn confirm(
        &self,
        order_id: OrderId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order_moving_stock(order_id, OrderCommand::Confirm, "confirm", ctx)
            .await
    }

    /// Records that a confirmed order left with `carrier`.
    pub async fn ship(
        &self,
        order_id: OrderId,
        carrier: Carrier,
        tracking_number: TrackingNumber,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let command = OrderCommand::Ship {
            carrier,
            tracking_number,
        };
        self.order_moving_stock(order_id, command, "ship", ctx)
            .await
    }

    /// Records that a shipped order arrived.
    pub async fn deliver(
        &self,
        order_id: OrderId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order(order_id, OrderCommand::MarkDelivered, "deliver", ctx)
            .await
    }

    /// Cancels an order that is not delivered yet.
    pub async fn cancel(
        &self,
        order_id: OrderId,
        reason: Reason,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order_moving_stock(order_id, OrderCommand::Cancel { reason }, "cancel", ctx)
            .await
    }

    /// An order command whose events move stock, appended with the products' (`stock.rs`).
    async fn order_moving_stock(
        &self,
        order_id: OrderId,
        command: OrderCommand,
        name: &'static str,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order_with(order_id, command, name, ctx, &StockPlan)
            .await
    }

    async fn order(
        &self,
        order_id: OrderId,
        command: OrderCommand,
        name: &'static str,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order_with(order_id, command, name, ctx, &NoPlan).await
    }

    async fn order_with(
        &self,
        order_id: OrderId,
        command: OrderCommand,
        name: &'static str,
        ctx: &CommandContext,
        plan: &dyn CommandPlan<Order>,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let request = command.identity();
        let id = order_id.as_uuid();
        self.execute_planned::<Order, _>(name, id, request, ctx, async { Ok(command) }, plan)
            .await
    }
}
