//! The product use cases: create, reprice, rename, discontinue; the catalog and one product
//! (read model).

use domain::ProductId;
use domain::account::Capability;
use domain::requests::{CreateProduct, ListPage, RenameProduct, RepriceProduct};
use domain::values::{Money, ProductName, Sku};
use domain::views::{Fresh, ProductPage, ProductView};
use uuid::Uuid;

use crate::application::{Accepted, AppResult, Application, RequestContext};

impl Application {
    /// Adds a product to the catalog; idempotent with a key. Prices are bounded here, where
    /// they enter (`Money::MAX_PRICE`).
    pub async fn create_product(
        &self,
        ctx: &RequestContext,
        input: CreateProduct,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "create_product", Capability::Products)?;
        let sku = Sku::parse(&input.sku)?;
        let name = ProductName::parse(&input.name)?;
        let price = Money::price_from_cents(input.price_cents)?;
        let ctx = ctx.command();
        let id = input.product_id.map(ProductId::new);
        self.command(
            "create_product",
            self.commands().create_product(id, sku, name, price, &ctx),
        )
        .await
    }

    /// Sets a product's price.
    pub async fn reprice(
        &self,
        ctx: &RequestContext,
        product_id: Uuid,
        input: RepriceProduct,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "reprice", Capability::Products)?;
        let price = Money::price_from_cents(input.price_cents)?;
        let ctx = ctx.command();
        self.command(
            "reprice",
            self.commands()
                .reprice(ProductId::new(product_id), price, &ctx),
        )
        .await
    }

    /// Renames a product.
    pub async fn rename_product(
        &self,
        ctx: &RequestContext,
        product_id: Uuid,
        input: RenameProduct,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "rename_product", Capability::Products)?;
        let name = ProductName::parse(&input.name)?;
        let ctx = ctx.command();
        self.command(
            "rename_product",
            self.commands()
                .rename_product(ProductId::new(product_id), name, &ctx),
        )
        .await
    }

    /// Takes a product off sale.
    pub async fn discontinue(&self, ctx: &RequestContext, product_id: Uuid) -> AppResult<Accepted> {
        self.allow(ctx, "discontinue", Capability::Products)?;
        let ctx = ctx.command();
        self.command(
            "discontinue",
            self.commands()
                .discontinue(ProductId::new(product_id), &ctx),
        )
        .await
    }

    /// A page of the catalog.
    pub async fn products(
        &self,
        page: &ListPage,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<ProductPage>> {
        Ok(self.queries().products(page, min_position).await?)
    }

    /// One product.
    pub async fn product(
        &self,
        id: Uuid,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<ProductView>> {
        Ok(self.queries().get_product(id, min_position).await?)
    }
}
