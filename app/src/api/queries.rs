//! Reads: every one answers from read models (projections), except the audit log reads, which
//! show the event log itself by design.

use domain::console::{CorrelationTree, DeadLetterPage, EventSearchPage, EventStats};
use domain::requests::SearchEvents;
use domain::views::{
    ActivityEntry, CustomerPage, DashboardStats, EventView, Fresh, OrderDetail, OrderPage,
    ProductPage, ProductView, ProjectionStatus, RelayStatus, StreamView,
};
use leptos::prelude::*;
use uuid::Uuid;

use crate::error::UiError;

#[server(prefix = "/fn")]
pub async fn get_dashboard(min_position: Option<i64>) -> Result<Fresh<DashboardStats>, UiError> {
    crate::ssr::dashboard(min_position).await
}

#[server(prefix = "/fn")]
pub async fn get_activity() -> Result<Vec<ActivityEntry>, UiError> {
    crate::ssr::activity().await
}

#[server(prefix = "/fn")]
pub async fn list_orders(
    status: Option<String>,
    customer: Option<Uuid>,
    cursor: Option<String>,
    min_position: Option<i64>,
) -> Result<Fresh<OrderPage>, UiError> {
    crate::ssr::orders(status, customer, cursor, min_position).await
}

#[server(prefix = "/fn")]
pub async fn get_order(id: Uuid, min_position: Option<i64>) -> Result<Fresh<OrderDetail>, UiError> {
    crate::ssr::order(id, min_position).await
}

/// A page of customers (`cursor` from the previous page's `next_cursor`).
#[server(prefix = "/fn")]
pub async fn list_customers(
    cursor: Option<String>,
    limit: Option<u32>,
    min_position: Option<i64>,
) -> Result<CustomerPage, UiError> {
    crate::ssr::customers(domain::requests::ListPage { cursor, limit }, min_position).await
}

/// A page of the catalog (`cursor` from the previous page's `next_cursor`).
#[server(prefix = "/fn")]
pub async fn list_products(
    cursor: Option<String>,
    limit: Option<u32>,
    min_position: Option<i64>,
) -> Result<ProductPage, UiError> {
    crate::ssr::products(domain::requests::ListPage { cursor, limit }, min_position).await
}

/// Products on sale with few units available, least first.
#[server(prefix = "/fn")]
pub async fn low_stock() -> Result<Vec<ProductView>, UiError> {
    crate::ssr::low_stock().await
}

#[server(prefix = "/fn")]
pub async fn list_streams(
    stream_type: Option<String>,
    prefix: Option<String>,
    after: Option<String>,
) -> Result<Vec<StreamView>, UiError> {
    crate::ssr::streams(stream_type, prefix, after).await
}

#[server(prefix = "/fn")]
pub async fn stream_events(stream_id: String) -> Result<Vec<EventView>, UiError> {
    crate::ssr::stream_events(stream_id).await
}

#[server(prefix = "/fn")]
pub async fn get_correlation_tree(correlation_id: Uuid) -> Result<CorrelationTree, UiError> {
    crate::ssr::correlation_tree(correlation_id).await
}

#[server(prefix = "/fn")]
pub async fn find_events(search: SearchEvents) -> Result<EventSearchPage, UiError> {
    crate::ssr::search_events(search).await
}

#[server(prefix = "/fn")]
pub async fn get_event_stats() -> Result<EventStats, UiError> {
    crate::ssr::event_stats().await
}

#[server(prefix = "/fn")]
pub async fn list_dead_letters(
    projection: Option<String>,
    before: Option<i64>,
) -> Result<DeadLetterPage, UiError> {
    crate::ssr::dead_letters(projection, before).await
}

#[server(prefix = "/fn")]
pub async fn projection_statuses() -> Result<Vec<ProjectionStatus>, UiError> {
    crate::ssr::projections().await
}

#[server(prefix = "/fn")]
pub async fn get_relay() -> Result<RelayStatus, UiError> {
    crate::ssr::relay().await
}
