//! The product use cases: create, reprice, rename, discontinue, receive and count stock; the
//! catalog and one product (read model).

use domain::ProductId;
use domain::account::Capability;
use domain::requests::{
    CorrectStock, CreateProduct, ListPage, ReceiveStock, RenameProduct, RepriceProduct,
};
use domain::values::{Money, ProductName, Reason, Sku, StockUnits};
use domain::views::{Fresh, ProductPage, ProductView};
use uuid::Uuid;

use crate::application::{Accepted, AppResult, Application, RequestContext};
use crate::command::NewProduct;

/// Longest low-stock list.
const LOW_STOCK_LIST: u32 = 10;

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
        let stock = StockUnits::from_i64(input.initial_stock.unwrap_or(0))?;
        let ctx = ctx.command();
        let id = input.product_id.map(ProductId::new);
        let new = NewProduct::new(sku, name, price).with_stock(stock);
        self.command(
            "create_product",
            self.commands().create_product(id, new, &ctx),
        )
        .await
    }

    /// Adds received units to a product's stock (staff).
    pub async fn receive_stock(
        &self,
        ctx: &RequestContext,
        product_id: Uuid,
        input: ReceiveStock,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "receive_stock", Capability::Products)?;
        let quantity = StockUnits::from_i64(input.quantity)?;
        let ctx = ctx.command();
        self.command(
            "receive_stock",
            self.commands()
                .receive_stock(ProductId::new(product_id), quantity, &ctx),
        )
        .await
    }

    /// Sets a product's stock on hand to a counted number (staff).
    pub async fn correct_stock(
        &self,
        ctx: &RequestContext,
        product_id: Uuid,
        input: CorrectStock,
    ) -> AppResult<Accepted> {
        self.allow(ctx, "correct_stock", Capability::Products)?;
        let on_hand = StockUnits::from_i64(input.on_hand)?;
        let reason = Reason::parse(&input.reason)?;
        let ctx = ctx.command();
        self.command(
            "correct_stock",
            self.commands()
                .correct_stock(ProductId::new(product_id), on_hand, reason, &ctx),
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

    /// Products on sale with at most [`domain::stock::LOW_STOCK`] units available, least first
    /// (staff).
    pub async fn low_stock(
        &self,
        ctx: &RequestContext,
        min_position: Option<i64>,
    ) -> AppResult<Fresh<Vec<ProductView>>> {
        self.allow(ctx, "low_stock", Capability::Insights)?;
        Ok(self
            .queries()
            .low_stock(domain::stock::LOW_STOCK, LOW_STOCK_LIST, min_position)
            .await?)
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
