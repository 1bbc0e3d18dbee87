//! `/api/orders`: place (with lines), items, confirm, ship, deliver, cancel; list and detail,
//! dashboard and activity from the read models. Each handler is one call of the application
//! layer.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use domain::requests::{
    AddItem, CancelOrder, ChangeQuantity, ListOrders, ListPage, PlaceOrder, ShipOrder,
};
use domain::views::{ActivityEntry, DashboardStats, Fresh, OrderPage};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::commands::{reply, with_etag};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, Ctx};
use crate::state::AppState;

/// `?min_position=` (read-your-writes).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FreshQuery {
    pub min_position: Option<i64>,
}

/// `?cursor=&limit=&min_position=`: a page of a list (customers, products).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    pub min_position: Option<i64>,
}

impl PageQuery {
    /// The page asked for.
    pub fn page(&self) -> ListPage {
        ListPage {
            cursor: self.cursor.clone(),
            limit: self.limit,
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    pub limit: Option<u32>,
    pub min_position: Option<i64>,
}

pub async fn place(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> ApiResult<Response> {
    reply(state.app.place_order(&ctx, body).await, true)
}

pub async fn add_item(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<AddItem>,
) -> ApiResult<Response> {
    reply(state.app.add_item(&ctx, id, body).await, false)
}

pub async fn remove_item(
    State(state): State<AppState>,
    ApiPath((id, product_id)): ApiPath<(Uuid, Uuid)>,
    Ctx(ctx): Ctx,
) -> ApiResult<Response> {
    reply(state.app.remove_item(&ctx, id, product_id).await, false)
}

pub async fn change_quantity(
    State(state): State<AppState>,
    ApiPath((id, product_id)): ApiPath<(Uuid, Uuid)>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<ChangeQuantity>,
) -> ApiResult<Response> {
    let result = state.app.change_quantity(&ctx, id, product_id, body).await;
    reply(result, false)
}

pub async fn confirm(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
) -> ApiResult<Response> {
    reply(state.app.confirm(&ctx, id).await, false)
}

pub async fn ship(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<ShipOrder>,
) -> ApiResult<Response> {
    reply(state.app.ship(&ctx, id, body).await, false)
}

pub async fn deliver(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
) -> ApiResult<Response> {
    reply(state.app.deliver(&ctx, id).await, false)
}

pub async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<CancelOrder>,
) -> ApiResult<Response> {
    reply(state.app.cancel(&ctx, id, body).await, false)
}

pub async fn list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<ListOrders>,
) -> ApiResult<Json<Fresh<OrderPage>>> {
    Ok(Json(state.app.list_orders(&ctx, q).await?))
}

pub async fn get_one(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Response> {
    let fresh = state.app.order(&ctx, id, q.min_position).await?;
    Ok(with_etag(fresh.data.summary.version, Json(fresh)))
}

pub async fn dashboard(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Json<Fresh<DashboardStats>>> {
    Ok(Json(state.app.dashboard(&ctx, q.min_position).await?))
}

pub async fn activity(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<Fresh<Vec<ActivityEntry>>>> {
    Ok(Json(
        state.app.activity(&ctx, q.limit, q.min_position).await?,
    ))
}
