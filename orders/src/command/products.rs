//! The Product use cases of the command service.

use domain::ProductId;
use domain::product::{Product, ProductCommand, ProductEvent};
use domain::values::{Money, ProductName};
use uuid::Uuid;

use crate::command::error::CommandResult;
use crate::command::identity::RequestIdentity;
use crate::command::metadata::CommandContext;
use crate::command::service::{CommandOutcome, CommandService, new_id};

impl CommandService {
    /// Adds a product to the catalogue. Without `product_id`, the id is derived from the
    /// idempotency key if there is one, else a new UUID v7.
    pub async fn create_product(
        &self,
        product_id: Option<ProductId>,
        sku: domain::values::Sku,
        name: ProductName,
        price: Money,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let product_id = ProductId::new(new_id::<Product>(product_id.map(Uuid::from), ctx));
        let command = ProductCommand::Create {
            product_id,
            sku,
            name,
            price,
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
