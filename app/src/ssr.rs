//! Server-only adapter behind the server functions: each is one call of the application layer
//! (`orders::application`), like the REST handlers. This file only takes the request's context
//! (the same [`RequestContext`] rule as REST: correlation id from the request, the acting user,
//! the version the page showed, the form's idempotency key) and maps the application's error
//! with `From` (which also sets the response's HTTP status).

use std::sync::Arc;

use domain::requests::{self, ListOrders, ListStreams};
use domain::values::Money;
use domain::views::{
    ActivityEntry, CommandReply, CustomerView, DashboardStats, EventView, Fresh, OrderDetail,
    OrderPage, ProductView, ProjectionStatus, RelayStatus, StreamView,
};
use http::HeaderMap;
use http::request::Parts;
use leptos::prelude::*;
use orders::application::{
    Accepted, AppError, Application, CorrelationId, ErrorKind, RequestContext,
};
use uuid::Uuid;

use crate::api::commands::OrderTransition;
use crate::error::UiError;

/// Decides who is an administrator; implemented by the server (which owns the token and sessions).
pub trait AdminGate: Send + Sync + 'static {
    /// Whether these request headers carry a valid admin session or token.
    fn is_admin(&self, headers: &HeaderMap) -> bool;
    /// A `Set-Cookie` value starting a session when `token` is right.
    fn login(&self, token: &str) -> Option<http::HeaderValue>;
    /// A `Set-Cookie` value ending the session these headers carry.
    fn logout(&self, headers: &HeaderMap) -> http::HeaderValue;
}

/// Everything the server functions use, provided as Leptos context by the server.
#[derive(Clone)]
pub struct UiServices {
    /// Every use case.
    pub app: Application,
    /// The admin credential check.
    pub admin: Arc<dyn AdminGate>,
}

/// Who operator actions from the admin panel are recorded as.
const ADMIN: &str = "admin";

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

fn headers() -> HeaderMap {
    use_context::<Parts>()
        .map(|parts| parts.headers)
        .unwrap_or_default()
}

/// The application and this request's context, with the version the page showed.
fn context(expected_version: Option<i64>) -> Result<(Application, RequestContext), UiError> {
    let services = services()?;
    let parts = use_context::<Parts>();
    let headers = parts.as_ref().map(|p| &p.headers);
    let empty = HeaderMap::new();
    let headers = headers.unwrap_or(&empty);
    let correlation = parts
        .as_ref()
        .and_then(|p| p.extensions.get::<CorrelationId>().copied());
    let is_admin = services.admin.is_admin(headers);
    let ctx = RequestContext::from_headers(headers, correlation, is_admin)?
        .with_expected_version(expected_version);
    Ok((services.app, ctx))
}

fn reply(accepted: Accepted) -> CommandReply {
    accepted.reply
}

fn require_admin() -> Result<Application, UiError> {
    let s = services()?;
    if s.admin.is_admin(&headers()) {
        Ok(s.app)
    } else {
        Err(AppError::new(
            ErrorKind::Unauthorized,
            "unauthorized",
            "Please log in as an administrator.",
        )
        .into())
    }
}

// ---- queries ----

pub async fn dashboard(min_position: Option<i64>) -> Result<Fresh<DashboardStats>, UiError> {
    Ok(app()?.dashboard(min_position).await?)
}

pub async fn activity() -> Result<Vec<ActivityEntry>, UiError> {
    Ok(app()?.activity(None, None).await?.data)
}

pub async fn orders(
    status: Option<String>,
    customer: Option<Uuid>,
    cursor: Option<String>,
    min_position: Option<i64>,
) -> Result<Fresh<OrderPage>, UiError> {
    let filter = ListOrders {
        status,
        customer,
        cursor,
        limit: None,
        min_position,
    };
    Ok(app()?.list_orders(filter).await?)
}

pub async fn order(id: Uuid, min_position: Option<i64>) -> Result<Fresh<OrderDetail>, UiError> {
    Ok(app()?.order(id, min_position).await?)
}

pub async fn customers(min_position: Option<i64>) -> Result<Vec<CustomerView>, UiError> {
    Ok(app()?.customers(min_position).await?.data)
}

pub async fn products(min_position: Option<i64>) -> Result<Vec<ProductView>, UiError> {
    Ok(app()?.products(min_position).await?.data)
}

pub async fn streams(
    stream_type: Option<String>,
    prefix: Option<String>,
    after: Option<String>,
) -> Result<Vec<StreamView>, UiError> {
    let filter = ListStreams {
        stream_type,
        prefix,
        after,
        limit: None,
    };
    Ok(app()?.streams(filter).await?.streams)
}

pub async fn stream_events(stream_id: String) -> Result<Vec<EventView>, UiError> {
    let limit = Some(orders::application::MAX_PAGE);
    Ok(app()?.stream_events(&stream_id, None, limit).await?)
}

pub async fn correlated_events(correlation_id: Uuid) -> Result<Vec<EventView>, UiError> {
    let limit = Some(orders::application::MAX_PAGE);
    Ok(app()?.correlated(correlation_id, limit).await?)
}

pub async fn projections() -> Result<Vec<ProjectionStatus>, UiError> {
    Ok(app()?.projections())
}

pub async fn relay() -> Result<RelayStatus, UiError> {
    Ok(app()?.relay_status())
}

// ---- commands ----

pub async fn place_order(
    order: requests::PlaceOrder,
    idempotency_key: Option<String>,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None)?;
    let ctx = ctx.with_idempotency_key(idempotency_key)?;
    Ok(reply(app.place_order(&ctx, order).await?))
}

pub async fn add_item(
    order_id: Uuid,
    expected: i64,
    product_id: Uuid,
    quantity: u32,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected))?;
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
    let (app, ctx) = context(Some(expected))?;
    Ok(reply(app.remove_item(&ctx, order_id, product_id).await?))
}

pub async fn change_quantity(
    order_id: Uuid,
    expected: i64,
    product_id: Uuid,
    quantity: u32,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected))?;
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
    let (app, ctx) = context(Some(expected))?;
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

pub async fn register_customer(name: String, email: String) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None)?;
    let input = requests::RegisterCustomer {
        customer_id: None,
        name,
        email,
    };
    Ok(reply(app.register_customer(&ctx, input).await?))
}

/// `price` is the form's decimal text ("19.99").
pub async fn create_product(
    sku: String,
    name: String,
    price: String,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(None)?;
    let price_cents = Money::parse(&price).map_err(AppError::from)?.cents();
    let input = requests::CreateProduct {
        product_id: None,
        sku,
        name,
        price_cents,
    };
    Ok(reply(app.create_product(&ctx, input).await?))
}

/// `price` is the form's decimal text ("19.99").
pub async fn reprice_product(
    product_id: Uuid,
    expected: i64,
    price: String,
) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected))?;
    let price_cents = Money::parse(&price).map_err(AppError::from)?.cents();
    let input = requests::RepriceProduct { price_cents };
    Ok(reply(app.reprice(&ctx, product_id, input).await?))
}

pub async fn discontinue_product(product_id: Uuid, expected: i64) -> Result<CommandReply, UiError> {
    let (app, ctx) = context(Some(expected))?;
    Ok(reply(app.discontinue(&ctx, product_id).await?))
}

// ---- admin ----

pub async fn admin_session() -> Result<bool, UiError> {
    Ok(services()?.admin.is_admin(&headers()))
}

pub async fn admin_login(token: String) -> Result<(), UiError> {
    let cookie = services()?.admin.login(&token).ok_or_else(|| {
        UiError::from(AppError::new(
            ErrorKind::Unauthorized,
            "unauthorized",
            "Please log in as an administrator.",
        ))
    })?;
    set_cookie(cookie);
    Ok(())
}

pub async fn admin_logout() -> Result<(), UiError> {
    set_cookie(services()?.admin.logout(&headers()));
    Ok(())
}

fn set_cookie(cookie: http::HeaderValue) {
    match use_context::<leptos_axum::ResponseOptions>() {
        Some(response) => response.insert_header(http::header::SET_COOKIE, cookie),
        None => tracing::error!("no response options in the server function context"),
    }
}

pub async fn rebuild(name: Option<String>) -> Result<(), UiError> {
    let app = require_admin()?;
    match name {
        Some(name) => app.rebuild(&name, ADMIN).await.map(|_| ())?,
        None => app.rebuild_all(ADMIN).await.map(|_| ())?,
    }
    Ok(())
}

pub async fn retry(name: String) -> Result<(), UiError> {
    require_admin()?.retry(&name, ADMIN).await?;
    Ok(())
}

pub async fn skip(name: String, reason: String) -> Result<(), UiError> {
    require_admin()?
        .skip(&name, requests::SkipEvent { reason }, ADMIN)
        .await?;
    Ok(())
}
