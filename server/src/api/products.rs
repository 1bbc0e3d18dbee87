//! `/api/products`: create, reprice, rename, discontinue, receive and count stock; the catalog from the read model. Each
//! handler is one call of the application layer.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use domain::requests::{CorrectStock, CreateProduct, ReceiveStock, RenameProduct, RepriceProduct};
use domain::views::{Fresh, ProductPage, ProductView};
use uuid::Uuid;

use crate::api::commands::{reply, with_etag};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, Ctx};
use crate::api::orders::{FreshQuery, PageQuery};
use crate::state::AppState;

pub async fn create(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<CreateProduct>,
) -> ApiResult<Response> {
    reply(state.app.create_product(&ctx, body).await, true)
}

pub async fn reprice(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<RepriceProduct>,
) -> ApiResult<Response> {
    reply(state.app.reprice(&ctx, id, body).await, false)
}

pub async fn rename(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<RenameProduct>,
) -> ApiResult<Response> {
    reply(state.app.rename_product(&ctx, id, body).await, false)
}

pub async fn discontinue(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
) -> ApiResult<Response> {
    reply(state.app.discontinue(&ctx, id).await, false)
}

pub async fn receive_stock(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<ReceiveStock>,
) -> ApiResult<Response> {
    reply(state.app.receive_stock(&ctx, id, body).await, false)
}

pub async fn correct_stock(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<CorrectStock>,
) -> ApiResult<Response> {
    reply(state.app.correct_stock(&ctx, id, body).await, false)
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Fresh<ProductPage>>> {
    Ok(Json(state.app.products(&q.page(), q.min_position).await?))
}

pub async fn low_stock(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Json<Fresh<Vec<ProductView>>>> {
    Ok(Json(state.app.low_stock(&ctx, q.min_position).await?))
}

pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Response> {
    let fresh = state.app.product(id, q.min_position).await?;
    Ok(with_etag(fresh.data.version, Json(fresh)))
}
