//! `/api/customers`: register, rename, change email; list and detail from the read model.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use domain::CustomerId;
use domain::values::{CustomerName, Email};
use domain::views::{CustomerView, Fresh};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::commands::{self, context, parse};
use crate::api::error::ApiResult;
use crate::api::extract::{ApiJson, ApiPath, ApiQuery, CommandMeta};
use crate::api::orders::{FreshQuery, query_error};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterCustomer {
    pub customer_id: Option<Uuid>,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameCustomer {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmail {
    pub email: String,
}

pub async fn register(
    State(state): State<AppState>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<RegisterCustomer>,
) -> ApiResult<Response> {
    let name = parse(CustomerName::parse(&body.name))?;
    let email = parse(Email::parse(&body.email))?;
    let ctx = context(&meta);
    let id = body.customer_id.map(CustomerId::new);
    commands::run(
        &state,
        "register_customer",
        true,
        &meta,
        state.commands.register_customer(id, name, email, &ctx),
    )
    .await
}

pub async fn rename(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<RenameCustomer>,
) -> ApiResult<Response> {
    let name = parse(CustomerName::parse(&body.name))?;
    let ctx = context(&meta);
    commands::run(
        &state,
        "rename_customer",
        false,
        &meta,
        state
            .commands
            .rename_customer(CustomerId::new(id), name, &ctx),
    )
    .await
}

pub async fn change_email(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    meta: CommandMeta,
    ApiJson(body): ApiJson<ChangeEmail>,
) -> ApiResult<Response> {
    let email = parse(Email::parse(&body.email))?;
    let ctx = context(&meta);
    commands::run(
        &state,
        "change_email",
        false,
        &meta,
        state
            .commands
            .change_email(CustomerId::new(id), email, &ctx),
    )
    .await
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Json<Fresh<Vec<CustomerView>>>> {
    state
        .queries
        .customers(q.min_position)
        .await
        .map(Json)
        .map_err(query_error)
}

pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FreshQuery>,
) -> ApiResult<Json<Fresh<CustomerView>>> {
    state
        .queries
        .get_customer(id, q.min_position)
        .await
        .map(Json)
        .map_err(query_error)
}
