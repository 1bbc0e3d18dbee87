//! Server-only adapter behind the server functions: each is one call of the application layer
//! (`orders::application`), like the REST handlers. This file only takes the request's context
//! (the same [`RequestContext`] rule as REST: correlation id from the request, the principal of
//! its session cookie through [`Application::authenticate`], the version the page showed, the
//! form's idempotency key) and maps the application's error with `From` (which also sets the
//! response's HTTP status). Who may do what is the application layer's decision.

use std::net::IpAddr;

use domain::requests::{self, ListOrders, ListPage, ListStreams};
use domain::values::{Money, StockUnits};
use domain::views::{
    ActivityEntry, CommandReply, CustomerPage, DashboardStats, EventView, Fresh, OrderDetail,
    OrderPage, ProductPage, ProductView, ProjectionStatus, RelayStatus, StreamView, UserPage,
};
use http::HeaderMap;
use http::request::Parts;
use leptos::prelude::*;
use orders::application::{
    Accepted, AppError, Application, ClientIp, CorrelationId, RequestContext,
};
use tower_sessions_core::Session;
use uuid::Uuid;

use crate::api::commands::OrderTransition;
use crate::error::UiError;

/// Everything the server functions use, provided as Leptos context by the server.
#[derive(Clone)]
pub struct UiServices {
    /// Every use case.
    pub app: Application,
}

impl From<AppError> for UiError {
    /// The UI's form of the application's error, with the same code; sets the server
    /// function's HTTP status to the error's, so logs and metrics count a refused call as a
    /// 4xx like REST does.
    fn from(e: AppError) -> Self {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
            && let Ok(code) = http::StatusCode::from_u16(e.status())
        {
            response.set_status(code);
        }
        UiError::new(e.kind, e.code, e.message)
    }
}

fn app() -> Result<Application, UiError> {
    Ok(services()?.app)
}

fn services() -> Result<UiServices, UiError> {
    use_context::<UiServices>().ok_or_else(|| {
        AppError::internal(
            "server function",
            "UiServices missing from the Leptos context",
        )
        .into()
    })
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The request's session (the server's session layer puts it in the extensions).
fn session() -> Result<Session, UiError> {
    parts()
        .and_then(|p| p.extensions.get::<Session>().cloned())
        .ok_or_else(|| AppError::internal("server function", "no session layer").into())
}

/// The application and this request's context (its principal from the session), with the
/// version the page showed.
async fn context(expected_version: Option<i64>) -> Result<(Application, RequestContext), UiError> {
    let app = app()?;
    let parts = parts();
    let empty = HeaderMap::new();
    let headers = parts.as_ref().map_or(&empty, |p| &p.headers);
    let correlation = parts
        .as_ref()
        .and_then(|p| p.extensions.get::<CorrelationId>().copied());
    let session = parts.as_ref().and_then(|p| p.extensions.get::<Session>());
    let principal = app.authenticate(headers, session).await?;
    let ctx = RequestContext::from_headers(headers, correlation, principal)?
        .with_expected_version(expected_version);
    Ok((app, ctx))
}

fn reply(accepted: Accepted) -> CommandReply {
    accepted.reply
}

// ---- queries ----

pub async fn dashboard(min_position: Option<i64>) -> Result<Fresh<DashboardStats>, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.dashboard(&ctx, min_position).await?)
}

pub async fn activity() -> Result<Vec<ActivityEntry>, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.activity(&ctx, None, None).await?.data)
}

pub async fn orders(
    status: Option<String>,
    customer: Option<Uuid>,
    cursor: Option<String>,
    min_position: Option<i64>,
) -> Result<Fresh<OrderPage>, UiError> {
    let (app, ctx) = context(None).await?;
    let filter = ListOrders {
        status,
        customer,
        cursor,
        limit: None,
        min_position,
    };
    Ok(app.list_orders(&ctx, filter).await?)
}

pub async fn order(id: Uuid, min_position: Option<i64>) -> Result<Fresh<OrderDetail>, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.order(&ctx, id, min_position).await?)
}

pub async fn customers(page: ListPage, min_position: Option<i64>) -> Result<CustomerPage, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.customers(&ctx, &page, min_position).await?.data)
}

pub async fn products(page: ListPage, min_position: Option<i64>) -> Result<ProductPage, UiError> {
    Ok(app()?.products(&page, min_position).await?.data)
}

pub async fn low_stock() -> Result<Vec<ProductView>, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.low_stock(&ctx, None).await?.data)
}

pub async fn streams(
    stream_type: Option<String>,
    prefix: Option<String>,
    after: Option<String>,
) -> Result<Vec<StreamView>, UiError> {
    let (app, ctx) = context(None).await?;
    let filter = ListStreams {
        stream_type,
        prefix,
        after,
        limit: None,
    };
    Ok(app.streams(&ctx, filter).await?.streams)
}

pub async fn stream_events(stream_id: String) -> Result<Vec<EventView>, UiError> {
    let (app, ctx) = context(None).await?;
    let limit = Some(orders::application::MAX_PAGE);
    Ok(app.stream_events(&ctx, &stream_id, None, limit).await?)
}

pub async fn correlation_tree(
    correlation_id: Uuid,
) -> Result<domain::console::CorrelationTree, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.correlation_tree(&ctx, correlation_id).await?)
}

pub async fn search_events(
    search: requests::SearchEvents,
) -> Result<domain::console::EventSearchPage, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.search_events(&ctx, search).await?)
}

pub async fn event_stats() -> Result<domain::console::EventStats, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.event_stats(&ctx)?)
}

pub async fn dead_letters(
    projection: Option<String>,
    before: Option<i64>,
) -> Result<domain::console::DeadLetterPage, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.dead_letters(&ctx, projection, before, None).await?)
}

pub async fn projections() -> Result<Vec<ProjectionStatus>, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.projections(&ctx)?)
}

pub async fn relay() -> Result<RelayStatus, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.relay_status(&ctx)?)
}

// ---- commands ----

pub async fn place_order(
    order: requests::PlaceOrder,
    idempotency_key: Option<String>,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None).await?;
    let ctx = ctx.with_idempotency_key(idempotency_key)?;
    Ok(reply(app.place_order(&ctx, order).await?))
}

pub async fn add_item(
    order_id: Uuid,
    expected: i64,
    product_id: Uuid,
    quantity: u32,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected)).await?;
    let input = requests::AddItem {
        product_id,
        quantity: i64::from(quantity),
    };
    Ok(reply(app.add_item(&ctx, order_id, input).await?))
}

pub async fn remove_item(
    order_id: Uuid,
    expected: i64,
    product_id: Uuid,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected)).await?;
    Ok(reply(app.remove_item(&ctx, order_id, product_id).await?))
}

pub async fn change_quantity(
    order_id: Uuid,
    expected: i64,
    product_id: Uuid,
    quantity: u32,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected)).await?;
    let input = requests::ChangeQuantity {
        quantity: i64::from(quantity),
    };
    Ok(reply(
        app.change_quantity(&ctx, order_id, product_id, input)
            .await?,
    ))
}

pub async fn transition_order(
    order_id: Uuid,
    expected: i64,
    transition: OrderTransition,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected)).await?;
    let accepted = match transition {
        OrderTransition::Confirm => app.confirm(&ctx, order_id).await,
        OrderTransition::Deliver => app.deliver(&ctx, order_id).await,
        OrderTransition::Ship {
            carrier,
            tracking_number,
        } => {
            let input = requests::ShipOrder {
                carrier,
                tracking_number,
            };
            app.ship(&ctx, order_id, input).await
        }
        OrderTransition::Cancel { reason } => {
            app.cancel(&ctx, order_id, requests::CancelOrder { reason })
                .await
        }
    };
    Ok(reply(accepted?))
}

pub async fn erase_customer(customer_id: Uuid, reason: String) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None).await?;
    let input = requests::EraseCustomer { reason };
    Ok(reply(app.erase_customer(&ctx, customer_id, input).await?))
}

pub async fn register_customer(name: String, email: String) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None).await?;
    let input = requests::RegisterCustomer {
        customer_id: None,
        name,
        email,
    };
    Ok(reply(app.register_customer(&ctx, input).await?))
}

/// `price` is the form's decimal text ("19.99"), `stock` its whole number of units ("" is 0).
pub async fn create_product(
    sku: String,
    name: String,
    price: String,
    stock: String,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None).await?;
    let price_cents = Money::parse(&price).map_err(AppError::from)?.cents();
    let units = StockUnits::parse(&stock).map_err(AppError::from)?;
    let input = requests::CreateProduct {
        product_id: None,
        sku,
        name,
        price_cents,
        initial_stock: Some(i64::from(units.get())),
    };
    Ok(reply(app.create_product(&ctx, input).await?))
}

/// `quantity` is the form's whole number of units received.
pub async fn receive_stock(product_id: Uuid, quantity: String) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None).await?;
    let units = StockUnits::parse(&quantity).map_err(AppError::from)?;
    let input = requests::ReceiveStock {
        quantity: i64::from(units.get()),
    };
    Ok(reply(app.receive_stock(&ctx, product_id, input).await?))
}

/// `price` is the form's decimal text ("19.99").
pub async fn reprice_product(
    product_id: Uuid,
    expected: i64,
    price: String,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected)).await?;
    let price_cents = Money::parse(&price).map_err(AppError::from)?.cents();
    let input = requests::RepriceProduct { price_cents };
    Ok(reply(app.reprice(&ctx, product_id, input).await?))
}

pub async fn discontinue_product(product_id: Uuid, expected: i64) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected)).await?;
    Ok(reply(app.discontinue(&ctx, product_id).await?))
}

// ---- identity ----

fn client_ip() -> Option<IpAddr> {
    parts()?.extensions.get::<ClientIp>().map(|c| c.0)
}

pub async fn me() -> Result<Option<domain::views::Viewer>, UiError> {
    let (_, ctx) = context(None).await?;
    Ok(ctx.principal.as_ref().map(|p| p.viewer()))
}

pub async fn sign_in(username: String, password: String) -> Result<domain::views::Viewer, UiError> {
    let input = requests::SignIn { username, password };
    Ok(app()?.sign_in(input, client_ip(), &session()?).await?)
}

pub async fn sign_up(
    username: String,
    password: String,
    name: String,
    email: String,
) -> Result<domain::views::Viewer, UiError> {
    let (app, ctx) = context(None).await?;
    let input = requests::SignUp {
        username,
        password,
        name,
        email,
    };
    Ok(app.sign_up(&ctx, input, &session()?).await?)
}

pub async fn sign_out() -> Result<(), UiError> {
    Ok(app()?.sign_out(&session()?).await?)
}

pub async fn my_tokens() -> Result<Vec<domain::views::TokenView>, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.tokens(&ctx).await?)
}

pub async fn create_token(name: String) -> Result<domain::views::TokenCreated, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app
        .create_token(&ctx, requests::CreateToken { name })
        .await?)
}

pub async fn revoke_token(id: Uuid) -> Result<(), UiError> {
    let (app, ctx) = context(None).await?;
    app.revoke_token(&ctx, id).await?;
    Ok(())
}

pub async fn users(page: ListPage, min_position: Option<i64>) -> Result<UserPage, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.users(&ctx, &page, min_position).await?.data)
}

pub async fn create_user(
    username: String,
    password: String,
    display_name: String,
    role: String,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None).await?;
    let input = requests::CreateUser {
        username,
        password,
        display_name,
        role,
    };
    Ok(reply(app.create_user(&ctx, input).await?))
}

pub async fn change_role(username: String, role: String) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None).await?;
    let accepted = app
        .change_role(&ctx, &username, requests::ChangeRole { role })
        .await?;
    Ok(reply(accepted))
}

pub async fn set_user_enabled(
    username: String,
    enabled: bool,
    reason: String,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None).await?;
    let accepted = if enabled {
        app.enable_user(&ctx, &username).await?
    } else {
        app.disable_user(&ctx, &username, requests::DisableUser { reason })
            .await?
    };
    Ok(reply(accepted))
}

// ---- admin ----

pub async fn admin_session() -> Result<bool, UiError> {
    let (_, ctx) = context(None).await?;
    Ok(ctx.is_admin())
}

pub async fn admin_login(token: String) -> Result<(), UiError> {
    app()?
        .sign_in_with_admin_token(&token, client_ip(), &session()?)
        .await?;
    Ok(())
}

pub async fn admin_logout() -> Result<(), UiError> {
    sign_out().await
}

pub async fn rebuild(name: Option<String>) -> Result<(), UiError> {
    let (app, ctx) = context(None).await?;
    match name {
        Some(name) => app.rebuild(&ctx, &name).await.map(|_| ())?,
        None => app.rebuild_all(&ctx).await.map(|_| ())?,
    }
    Ok(())
}

pub async fn retry(name: String) -> Result<(), UiError> {
    let (app, ctx) = context(None).await?;
    app.retry(&ctx, &name).await?;
    Ok(())
}

pub async fn skip(name: String, reason: String) -> Result<(), UiError> {
    let (app, ctx) = context(None).await?;
    app.skip(&ctx, &name, requests::SkipEvent { reason })
        .await?;
    Ok(())
}

pub async fn chain_status() -> Result<domain::integrity::ChainStatus, UiError> {
    let (app, ctx) = context(None).await?;
    Ok(app.chain_status(&ctx).await?)
}

pub async fn start_chain_verify() -> Result<(), UiError> {
    let (app, ctx) = context(None).await?;
    app.start_chain_verify(&ctx)?;
    Ok(())
}

pub async fn relay_retry() -> Result<(), UiError> {
    let (app, ctx) = context(None).await?;
    app.relay_retry(&ctx).await?;
    Ok(())
}

pub async fn relay_skip(reason: String) -> Result<(), UiError> {
    let (app, ctx) = context(None).await?;
    app.relay_skip(&ctx, requests::SkipEvent { reason }).await?;
    Ok(())
}
