//! `/api/customers`: register, rename, change email; list and detail from the read model. Each
//! handler is one call of the application layer.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use domain::requests::{ChangeEmail, EraseCustomer, RegisterCustomer, RenameCustomer};
use domain::views::{CustomerPage, Fresh};
use uuid::Uuid;

use crate::api::commands::{reply, with_etag};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, Ctx};
use crate::api::orders::{FreshQuery, PageQuery};
use crate::state::AppState;

pub async fn register(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<RegisterCustomer>,
) -> ApiResult<Response> {
    reply(state.app.register_customer(&ctx, body).await, true)
}

pub async fn rename(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<RenameCustomer>,
) -> ApiResult<Response> {
    reply(state.app.rename_customer(&ctx, id, body).await, false)
}

pub async fn erase(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<EraseCustomer>,
) -> ApiResult<Response> {
    reply(state.app.erase_customer(&ctx, id, body).await, false)
}

pub async fn change_email(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<ChangeEmail>,
) -> ApiResult<Response> {
    reply(state.app.change_email(&ctx, id, body).await, false)
}

pub async fn list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Fresh<CustomerPage>>> {
    Ok(Json(
        state.app.customers(&ctx, &q.page(), q.min_position).await?,
    ))
}

pub async fn get_one(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Response> {
    let fresh = state.app.customer(&ctx, id, q.min_position).await?;
    Ok(with_etag(fresh.data.version, Json(fresh)))
}
