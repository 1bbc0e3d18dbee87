//! `/api/products`: create, reprice, rename, discontinue; the catalog from the read model.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use domain::ProductId;
use domain::values::{Money, ProductName, Sku};
use domain::views::{Fresh, ProductView};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::commands::{self, context, parse};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, CommandMeta};
use crate::api::orders::{FreshQuery, query_error};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    pub product_id: Option<Uuid>,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepriceProduct {
    pub price_cents: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameProduct {
    pub name: String,
}

pub async fn create(
    State(state): State<AppState>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<CreateProduct>,
) -> ApiResult<Response> {
    let sku = parse(Sku::parse(&body.sku))?;
    let name = parse(ProductName::parse(&body.name))?;
    let price = parse(Money::from_cents(body.price_cents))?;
    let ctx = context(&meta);
    let id = body.product_id.map(ProductId::new);
    commands::run(
        &state,
        "create_product",
        true,
        &meta,
        state.commands.create_product(id, sku, name, price, &ctx),
    )
    .await
}

pub async fn reprice(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<RepriceProduct>,
) -> ApiResult<Response> {
    let price = parse(Money::from_cents(body.price_cents))?;
    let ctx = context(&meta);
    commands::run(
        &state,
        "reprice",
        false,
        &meta,
        state.commands.reprice(ProductId::new(id), price, &ctx),
    )
    .await
}

pub async fn rename(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<RenameProduct>,
) -> ApiResult<Response> {
    let name = parse(ProductName::parse(&body.name))?;
    let ctx = context(&meta);
    commands::run(
        &state,
        "rename_product",
        false,
        &meta,
        state
            .commands
            .rename_product(ProductId::new(id), name, &ctx),
    )
    .await
}

pub async fn discontinue(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
) -> ApiResult<Response> {
    let ctx = context(&meta);
    commands::run(
        &state,
        "discontinue",
        false,
        &meta,
        state.commands.discontinue(ProductId::new(id), &ctx),
    )
    .await
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Json<Fresh<Vec<ProductView>>>> {
    state
        .queries
        .products(q.min_position)
        .await
        .map(Json)
        .map_err(query_error)
}

pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Json<Fresh<ProductView>>> {
    state
        .queries
        .get_product(id, q.min_position)
        .await
        .map(Json)
        .map_err(query_error)
}
