//! `/api/orders`: place, items, confirm, ship, deliver, cancel; list and detail, dashboard and
//! activity from the read models.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use domain::order::OrderStatus;
use domain::values::{Carrier, Reason, TrackingNumber};
use domain::views::{ActivityEntry, DashboardStats, Fresh, OrderDetail, OrderPage};
use domain::{CustomerId, OrderId, ProductId};
use orders::query::{OrderFilter, QueryError};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::commands::{self, context, parse, quantity};
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, CommandMeta};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    pub order_id: Option<Uuid>,
    pub customer_id: Uuid,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    pub product_id: Uuid,
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeQuantity {
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipOrder {
    pub carrier: String,
    pub tracking_number: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelOrder {
    pub reason: String,
}

/// `?min_position=` (read-your-writes).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshQuery {
    pub min_position: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListOrdersQuery {
    pub status: Option<String>,
    pub customer: Option<Uuid>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    pub min_position: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    pub limit: Option<u32>,
    pub min_position: Option<i64>,
}

/// The API error of a query failure.
pub fn query_error(error: QueryError) -> ApiError {
    match error {
        QueryError::NotFound { entity, id } => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            match entity {
                "order" => "order_not_found",
                "customer" => "customer_not_found",
                "product" => "product_not_found",
                _ => "not_found",
            },
            format!("This {entity} does not exist."),
        )
        .with_details(serde_json::json!({ "kind": entity, "id": id })),
        QueryError::InvalidCursor => ApiError::bad_request(
            "invalid_cursor",
            "The cursor is invalid; start from the first page.",
        ),
        other => ApiError::internal(anyhow::Error::new(other).context("query failed")),
    }
}

pub async fn place(
    State(state): State<AppState>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> ApiResult<Response> {
    let ctx = context(&meta);
    let id = body.order_id.map(OrderId::new);
    commands::run(
        &state,
        "place_order",
        true,
        &meta,
        state
            .commands
            .place_order(id, CustomerId::new(body.customer_id), &ctx),
    )
    .await
}

pub async fn add_item(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<AddItem>,
) -> ApiResult<Response> {
    let quantity = quantity(body.quantity)?;
    let ctx = context(&meta);
    commands::run(
        &state,
        "add_item",
        false,
        &meta,
        state.commands.add_item(
            OrderId::new(id),
            ProductId::new(body.product_id),
            quantity,
            &ctx,
        ),
    )
    .await
}

pub async fn remove_item(
    State(state): State<AppState>,
    ApiPath((id, product_id)): ApiPath<(Uuid, Uuid)>,
    meta: CommandMeta,
) -> ApiResult<Response> {
    let ctx = context(&meta);
    commands::run(
        &state,
        "remove_item",
        false,
        &meta,
        state
            .commands
            .remove_item(OrderId::new(id), ProductId::new(product_id), &ctx),
    )
    .await
}

pub async fn change_quantity(
    State(state): State<AppState>,
    ApiPath((id, product_id)): ApiPath<(Uuid, Uuid)>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<ChangeQuantity>,
) -> ApiResult<Response> {
    let quantity = quantity(body.quantity)?;
    let ctx = context(&meta);
    commands::run(
        &state,
        "change_quantity",
        false,
        &meta,
        state.commands.change_quantity(
            OrderId::new(id),
            ProductId::new(product_id),
            quantity,
            &ctx,
        ),
    )
    .await
}

pub async fn confirm(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
) -> ApiResult<Response> {
    let ctx = context(&meta);
    commands::run(
        &state,
        "confirm",
        false,
        &meta,
        state.commands.confirm(OrderId::new(id), &ctx),
    )
    .await
}

pub async fn ship(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<ShipOrder>,
) -> ApiResult<Response> {
    let carrier = parse(Carrier::parse(&body.carrier))?;
    let tracking = parse(TrackingNumber::parse(&body.tracking_number))?;
    let ctx = context(&meta);
    commands::run(
        &state,
        "ship",
        false,
        &meta,
        state
            .commands
            .ship(OrderId::new(id), carrier, tracking, &ctx),
    )
    .await
}

pub async fn deliver(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
) -> ApiResult<Response> {
    let ctx = context(&meta);
    commands::run(
        &state,
        "deliver",
        false,
        &meta,
        state.commands.deliver(OrderId::new(id), &ctx),
    )
    .await
}

pub async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<CancelOrder>,
) -> ApiResult<Response> {
    let reason = parse(Reason::parse(&body.reason))?;
    let ctx = context(&meta);
    commands::run(
        &state,
        "cancel",
        false,
        &meta,
        state.commands.cancel(OrderId::new(id), reason, &ctx),
    )
    .await
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListOrdersQuery>,
) -> ApiResult<Json<Fresh<OrderPage>>> {
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<OrderStatus>()
                .map_err(|e| ApiError::validation(&e))?,
        ),
    };
    let filter = OrderFilter {
        status,
        customer_id: q.customer,
        cursor: q.cursor,
        limit: q.limit,
    };
    state
        .queries
        .list_orders(&filter, q.min_position)
        .await
        .map(Json)
        .map_err(query_error)
}

pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Json<Fresh<OrderDetail>>> {
    state
        .queries
        .get_order(id, q.min_position)
        .await
        .map(Json)
        .map_err(query_error)
}

pub async fn dashboard(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Json<Fresh<DashboardStats>>> {
    state
        .queries
        .dashboard(None, q.min_position)
        .await
        .map(Json)
        .map_err(query_error)
}

pub async fn activity(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<Fresh<Vec<ActivityEntry>>>> {
    state
        .queries
        .activity(q.limit, q.min_position)
        .await
        .map(Json)
        .map_err(query_error)
}
