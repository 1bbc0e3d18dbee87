//! The Product use cases of the command service.

use domain::ProductId;
use domain::product::{Product, ProductCommand, ProductEvent};
use domain::values::{Money, ProductName, Reason, Sku, StockUnits};
use uuid::Uuid;

use crate::command::error::CommandResult;
use crate::command::identity::RequestIdentity;
use crate::command::metadata::CommandContext;
use crate::command::service::{CommandOutcome, CommandService, new_id};

/// What a new product is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: ProductName,
    pub price: Money,
    /// Units on hand from the start.
    pub initial_stock: StockUnits,
}

impl NewProduct {
    /// A product with no stock yet.
    pub fn new(sku: Sku, name: ProductName, price: Money) -> Self {
        Self {
            sku,
            name,
            price,
            initial_stock: StockUnits::ZERO,
        }
    }

    /// With `units` on hand from the start.
    pub fn with_stock(self, units: StockUnits) -> Self {
        Self {
            initial_stock: units,
            ..self
        }
    }
}

impl CommandService {
    /// Adds a product to the catalogue with `initial_stock` units on hand (one append: the
    /// creation and the receipt). Without `product_id`, the id is derived from the idempotency
    /// key if there is one, else a new UUID v7.
    pub async fn create_product(
        &self,
        product_id: Option<ProductId>,
        new: NewProduct,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let product_id = ProductId::new(new_id::<Product>(product_id.map(Uuid::from), ctx));
        let command = ProductCommand::Create {
            product_id,
            sku: new.sku,
            name: new.name,
            price: new.price,
            initial_stock: new.initial_stock,
        };
        self.product(product_id, command, "create_product", ctx)
            .await
    }

    /// Sets a product's price (order lines added later use it; existing lines keep theirs).
    pub async fn reprice(
        &self,
        product_id: ProductId,
        price: Money,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        self.product(
            product_id,
            ProductCommand::Reprice { price },
            "reprice",
            ctx,
        )
        .await
    }

    /// Renames a product.
    pub async fn rename_product(
        &self,
        product_id: ProductId,
        name: ProductName,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let command = ProductCommand::Rename { name };
        self.product(product_id, command, "rename_product", ctx)
            .await
    }

    /// Takes a product off sale for good.
    pub async fn discontinue(
        &self,
        product_id: ProductId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        self.product(product_id, ProductCommand::Discontinue, "discontinue", ctx)
            .await
    }

    /// Adds received units to a product's stock.
    pub async fn receive_stock(
        &self,
        product_id: ProductId,
        quantity: StockUnits,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let command = ProductCommand::ReceiveStock { quantity };
        self.product(product_id, command, "receive_stock", ctx)
            .await
    }

    /// Sets a product's stock on hand to a counted number (never below what is reserved).
    pub async fn correct_stock(
        &self,
        product_id: ProductId,
        on_hand: StockUnits,
        reason: Reason,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let command = ProductCommand::CorrectStock { on_hand, reason };
        self.product(product_id, command, "correct_stock", ctx)
            .await
    }

    async fn product(
        &self,
        product_id: ProductId,
        command: ProductCommand,
        name: &'static str,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let request = command.identity();
        let id = product_id.as_uuid();
        self.execute_request::<Product, _>(name, id, request, ctx, async { Ok(command) })
            .await
    }
}
