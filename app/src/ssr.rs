//! Server-only adapters behind the server functions: they take the `orders` services from the
//! Leptos context (the server provides [`UiServices`]), translate typed inputs and errors, and
//! log internal errors without sending them to the browser.

use std::sync::Arc;

use domain::values::{
    Carrier, CustomerName, Email, Money, ProductName, Quantity, Reason, Sku, TrackingNumber,
};
use domain::views::{
    ActivityEntry, CommandReply, CustomerView, DashboardStats, EventView, Fresh, OrderDetail,
    OrderPage, ProductView, ProjectionStatus, RelayStatus, StreamView,
};
use domain::{CustomerId, OrderId, ProductId};
use eventstore::projection::{ProjectionRunner, RunnerError};
use eventstore::{EventStore, SqlEventStore, StreamFilter};
use http::{HeaderMap, HeaderValue, header};
use leptos::prelude::*;
use orders::audit::{event_view, stream_view};
use orders::command::{CommandContext, CommandError, CommandOutcome, CommandService};
use orders::query::{OrderFilter, QueryError, QueryService};
use orders::relay::Relay;
use uuid::Uuid;

use crate::api::commands::{NewLine, OrderTransition};
use crate::error::UiError;

/// Decides who is an administrator; implemented by the server (which owns the token and sessions).
pub trait AdminGate: Send + Sync + 'static {
    /// Whether these request headers carry a valid admin session or token.
    fn is_admin(&self, headers: &HeaderMap) -> bool;
    /// A `Set-Cookie` value starting a session when `token` is right.
    fn login(&self, token: &str) -> Option<HeaderValue>;
    /// A `Set-Cookie` value ending the session these headers carry.
    fn logout(&self, headers: &HeaderMap) -> HeaderValue;
}

/// Everything the server functions use, provided as Leptos context by the server.
#[derive(Clone)]
pub struct UiServices {
    pub commands: CommandService,
    pub queries: QueryService,
    pub store: SqlEventStore,
    pub runner: ProjectionRunner,
    pub relay: Arc<Relay>,
    pub admin: Arc<dyn AdminGate>,
}

fn services() -> Result<UiServices, UiError> {
    use_context::<UiServices>().ok_or_else(|| {
        tracing::error!("UiServices missing from the Leptos context");
        UiError::Internal
    })
}

async fn headers() -> HeaderMap {
    leptos_axum::extract::<HeaderMap>()
        .await
        .unwrap_or_default()
}

/// The command context of a browser request: fresh ids, the user, the version the page showed.
async fn context(expected_version: Option<i64>) -> CommandContext {
    let headers = headers().await;
    let user = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 100)
        .unwrap_or("web")
        .to_string();
    CommandContext::new()
        .with_user(user)
        .with_expected_version_opt(expected_version)
}

fn reply<E>(outcome: CommandOutcome<E>) -> CommandReply {
    CommandReply {
        id: outcome.id,
        version: outcome.version,
        position: outcome.position,
    }
}

/// Sets the HTTP status of the server function's response to match the error, so logs and
/// metrics count a refused command as a 4xx rather than a server failure.
fn with_status(e: UiError) -> UiError {
    let status = match &e {
        UiError::Rejected { .. } => 422,
        UiError::Invalid { .. } => 400,
        UiError::Conflict { .. } | UiError::Busy { .. } => 409,
        UiError::NotFound { .. } => 404,
        UiError::Unauthorized => 401,
        UiError::Unavailable { .. } => 503,
        UiError::Internal | UiError::Transport(_) => 500,
    };
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(code) = http::StatusCode::from_u16(status)
    {
        response.set_status(code);
    }
    e
}

fn command_error(e: CommandError) -> UiError {
    with_status(match e {
        CommandError::Domain(d) if d.is_rejection() => {
            let message = d.to_string();
            match d {
                domain::DomainError::Validation(_) => UiError::Invalid { message },
                other => UiError::Rejected {
                    code: other.code().to_string(),
                    message,
                },
            }
        }
        CommandError::NotFound { kind, .. } => UiError::NotFound {
            what: format!("That {kind}"),
        },
        CommandError::Conflict {
            stream, current, ..
        } => UiError::Conflict {
            kind: stream.split('-').next().unwrap_or("item").to_string(),
            current,
        },
        CommandError::Store(eventstore::StoreError::StorageFull(detail)) => {
            tracing::error!(%detail, "command refused: the database is out of disk space");
            UiError::Unavailable {
                message: "The server is out of disk space, so this change was not saved. Please try again later.".into(),
            }
        }
        CommandError::IdempotencyKeyReused { .. } | CommandError::InvalidIdempotencyKey { .. } => {
            UiError::Invalid {
                message: e.to_string(),
            }
        }
        other => {
            tracing::error!(error = %other, "command failed");
            UiError::Internal
        }
    })
}

fn query_error(e: QueryError) -> UiError {
    with_status(match e {
        QueryError::NotFound { entity, .. } => UiError::NotFound {
            what: format!("That {entity}"),
        },
        QueryError::InvalidCursor => UiError::Invalid {
            message: "That page link is no longer valid.".into(),
        },
        other => {
            tracing::error!(error = %other, "query failed");
            UiError::Internal
        }
    })
}

fn store_error(e: eventstore::StoreError) -> UiError {
    tracing::error!(error = %e, "event store read failed");
    UiError::Internal
}

fn runner_error(e: RunnerError) -> UiError {
    with_status(match e {
        RunnerError::UnknownProjection(name) => UiError::NotFound {
            what: format!("Projection {name}"),
        },
        RunnerError::RebuildInProgress { projection, .. } => UiError::Busy {
            message: format!("A rebuild of {projection} is already running."),
        },
        RunnerError::NotFaulted(name) => UiError::Busy {
            message: format!("Projection {name} is not faulted (any more)."),
        },
        other => {
            tracing::error!(error = %other, "projection runner failed");
            UiError::Internal
        }
    })
}

fn invalid(e: impl std::fmt::Display) -> UiError {
    UiError::Invalid {
        message: e.to_string(),
    }
}

async fn require_admin() -> Result<UiServices, UiError> {
    let s = services()?;
    if s.admin.is_admin(&headers().await) {
        Ok(s)
    } else {
        Err(with_status(UiError::Unauthorized))
    }
}

// ---- queries ----

pub async fn dashboard(min_position: Option<i64>) -> Result<Fresh<DashboardStats>, UiError> {
    services()?
        .queries
        .dashboard(None, min_position)
        .await
        .map_err(query_error)
}

pub async fn activity() -> Result<Vec<ActivityEntry>, UiError> {
    Ok(services()?
        .queries
        .activity(None, None)
        .await
        .map_err(query_error)?
        .data)
}

pub async fn orders(
    status: Option<String>,
    customer: Option<Uuid>,
    cursor: Option<String>,
    min_position: Option<i64>,
) -> Result<Fresh<OrderPage>, UiError> {
    let status = status.map(|s| s.parse()).transpose().map_err(invalid)?;
    let filter = OrderFilter {
        status,
        customer_id: customer,
        cursor,
        limit: None,
    };
    services()?
        .queries
        .list_orders(&filter, min_position)
        .await
        .map_err(query_error)
}

pub async fn order(id: Uuid, min_position: Option<i64>) -> Result<Fresh<OrderDetail>, UiError> {
    services()?
        .queries
        .get_order(id, min_position)
        .await
        .map_err(query_error)
}

pub async fn customers(min_position: Option<i64>) -> Result<Vec<CustomerView>, UiError> {
    Ok(services()?
        .queries
        .customers(min_position)
        .await
        .map_err(query_error)?
        .data)
}

pub async fn products(min_position: Option<i64>) -> Result<Vec<ProductView>, UiError> {
    Ok(services()?
        .queries
        .products(min_position)
        .await
        .map_err(query_error)?
        .data)
}

pub async fn streams(
    stream_type: Option<String>,
    id_prefix: Option<String>,
    after: Option<String>,
) -> Result<Vec<StreamView>, UiError> {
    let filter = StreamFilter {
        stream_type,
        id_prefix,
        after,
        limit: 50,
    };
    let list = services()?
        .store
        .list_streams(&filter)
        .await
        .map_err(store_error)?;
    Ok(list.into_iter().map(stream_view).collect())
}

pub async fn stream_events(stream_id: String) -> Result<Vec<EventView>, UiError> {
    let events = services()?
        .store
        .read_stream(&stream_id, 1, 10_000)
        .await
        .map_err(store_error)?;
    Ok(events.into_iter().map(event_view).collect())
}

pub async fn correlated_events(correlation_id: Uuid) -> Result<Vec<EventView>, UiError> {
    let events = services()?
        .store
        .read_correlated(correlation_id, 1_000)
        .await
        .map_err(store_error)?;
    Ok(events.into_iter().map(event_view).collect())
}

pub async fn projections() -> Result<Vec<ProjectionStatus>, UiError> {
    Ok(services()?
        .runner
        .status()
        .into_iter()
        .map(orders::status::projection_status)
        .collect())
}

pub async fn relay() -> Result<RelayStatus, UiError> {
    Ok(services()?.relay.status())
}

// ---- commands ----

pub async fn place_order(customer_id: Uuid, lines: Vec<NewLine>) -> Result<CommandReply, UiError> {
    let s = services()?;
    let ctx = context(None).await;
    let quantities = lines
        .iter()
        .map(|l| Quantity::new(l.quantity).map_err(invalid))
        .collect::<Result<Vec<_>, _>>()?;
    let placed = s
        .commands
        .place_order(None, CustomerId::new(customer_id), &ctx)
        .await
        .map_err(command_error)?;
    let order_id = OrderId::new(placed.id);
    let mut last = reply(placed);
    for (line, quantity) in lines.iter().zip(quantities) {
        // Same correlation id, a new command id (causation) per line.
        let ctx = ctx.clone().with_command_id(Uuid::now_v7());
        let added = s
            .commands
            .add_item(order_id, ProductId::new(line.product_id), quantity, &ctx)
            .await
            .map_err(command_error)?;
        last = reply(added);
    }
    Ok(last)
}

pub async fn add_item(
    order_id: Uuid,
    expected: i64,
    product_id: Uuid,
    quantity: u32,
) -> Result<CommandReply, UiError> {
    let quantity = Quantity::new(quantity).map_err(invalid)?;
    let ctx = context(Some(expected)).await;
    services()?
        .commands
        .add_item(
            OrderId::new(order_id),
            ProductId::new(product_id),
            quantity,
            &ctx,
        )
        .await
        .map(reply)
        .map_err(command_error)
}

pub async fn remove_item(
    order_id: Uuid,
    expected: i64,
    product_id: Uuid,
) -> Result<CommandReply, UiError> {
    let ctx = context(Some(expected)).await;
    services()?
        .commands
        .remove_item(OrderId::new(order_id), ProductId::new(product_id), &ctx)
        .await
        .map(reply)
        .map_err(command_error)
}

pub async fn change_quantity(
    order_id: Uuid,
    expected: i64,
    product_id: Uuid,
    quantity: u32,
) -> Result<CommandReply, UiError> {
    let quantity = Quantity::new(quantity).map_err(invalid)?;
    let ctx = context(Some(expected)).await;
    services()?
        .commands
        .change_quantity(
            OrderId::new(order_id),
            ProductId::new(product_id),
            quantity,
            &ctx,
        )
        .await
        .map(reply)
        .map_err(command_error)
}

pub async fn transition_order(
    order_id: Uuid,
    expected: i64,
    transition: OrderTransition,
) -> Result<CommandReply, UiError> {
    let s = services()?;
    let ctx = context(Some(expected)).await;
    let id = OrderId::new(order_id);
    let outcome = match transition {
        OrderTransition::Confirm => s.commands.confirm(id, &ctx).await,
        OrderTransition::Deliver => s.commands.deliver(id, &ctx).await,
        OrderTransition::Ship {
            carrier,
            tracking_number,
        } => {
            let carrier = Carrier::parse(&carrier).map_err(invalid)?;
            let tracking = TrackingNumber::parse(&tracking_number).map_err(invalid)?;
            s.commands.ship(id, carrier, tracking, &ctx).await
        }
        OrderTransition::Cancel { reason } => {
            let reason = Reason::parse(&reason).map_err(invalid)?;
            s.commands.cancel(id, reason, &ctx).await
        }
    };
    outcome.map(reply).map_err(command_error)
}

pub async fn register_customer(name: String, email: String) -> Result<CommandReply, UiError> {
    let name = CustomerName::parse(&name).map_err(invalid)?;
    let email = Email::parse(&email).map_err(invalid)?;
    let ctx = context(None).await;
    services()?
        .commands
        .register_customer(None, name, email, &ctx)
        .await
        .map(reply)
        .map_err(command_error)
}

pub async fn create_product(
    sku: String,
    name: String,
    price: String,
) -> Result<CommandReply, UiError> {
    let sku = Sku::parse(&sku).map_err(invalid)?;
    let name = ProductName::parse(&name).map_err(invalid)?;
    let price = Money::parse(&price).map_err(invalid)?;
    let ctx = context(None).await;
    services()?
        .commands
        .create_product(None, sku, name, price, &ctx)
        .await
        .map(reply)
        .map_err(command_error)
}

pub async fn reprice_product(
    product_id: Uuid,
    expected: i64,
    price: String,
) -> Result<CommandReply, UiError> {
    let price = Money::parse(&price).map_err(invalid)?;
    let ctx = context(Some(expected)).await;
    services()?
        .commands
        .reprice(ProductId::new(product_id), price, &ctx)
        .await
        .map(reply)
        .map_err(command_error)
}

pub async fn discontinue_product(product_id: Uuid, expected: i64) -> Result<CommandReply, UiError> {
    let ctx = context(Some(expected)).await;
    services()?
        .commands
        .discontinue(ProductId::new(product_id), &ctx)
        .await
        .map(reply)
        .map_err(command_error)
}

// ---- admin ----

pub async fn admin_session() -> Result<bool, UiError> {
    Ok(services()?.admin.is_admin(&headers().await))
}

pub async fn admin_login(token: String) -> Result<(), UiError> {
    let cookie = services()?
        .admin
        .login(&token)
        .ok_or_else(|| with_status(UiError::Unauthorized))?;
    expect_context::<leptos_axum::ResponseOptions>().insert_header(header::SET_COOKIE, cookie);
    Ok(())
}

pub async fn admin_logout() -> Result<(), UiError> {
    let cookie = services()?.admin.logout(&headers().await);
    expect_context::<leptos_axum::ResponseOptions>().insert_header(header::SET_COOKIE, cookie);
    Ok(())
}

pub async fn rebuild(name: Option<String>) -> Result<(), UiError> {
    let s = require_admin().await?;
    match name {
        Some(name) => s
            .runner
            .rebuild(&name)
            .await
            .map(|_| ())
            .map_err(runner_error),
        None => s
            .runner
            .rebuild_all()
            .await
            .map(|_| ())
            .map_err(runner_error),
    }
}

pub async fn retry(name: String) -> Result<(), UiError> {
    require_admin()
        .await?
        .runner
        .retry(&name)
        .await
        .map_err(runner_error)
}

pub async fn skip(name: String, reason: String) -> Result<(), UiError> {
    let reason = Reason::parse(&reason).map_err(invalid)?;
    require_admin()
        .await?
        .runner
        .skip(&name, reason.as_str(), "admin")
        .await
        .map_err(runner_error)
}
