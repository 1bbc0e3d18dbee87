//! Reads: every one answers from read models (projections), except the audit log reads, which
//! show the event log itself by design.

use domain::views::{
    ActivityEntry, CustomerView, DashboardStats, EventView, Fresh, OrderDetail, OrderPage,
    ProductView, ProjectionStatus, RelayStatus, StreamView,
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

#[server(prefix = "/fn")]
pub async fn list_customers(min_position: Option<i64>) -> Result<Vec<CustomerView>, UiError> {
    crate::ssr::customers(min_position).await
}

#[server(prefix = "/fn")]
pub async fn list_products(min_position: Option<i64>) -> Result<Vec<ProductView>, UiError> {
    crate::ssr::products(min_position).await
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
pub async fn correlated_events(correlation_id: Uuid) -> Result<Vec<EventView>, UiError> {
    crate::ssr::correlated_events(correlation_id).await
}

#[server(prefix = "/fn")]
pub async fn projection_statuses() -> Result<Vec<ProjectionStatus>, UiError> {
    crate::ssr::projections().await
}

#[server(prefix = "/fn")]
pub async fn get_relay() -> Result<RelayStatus, UiError> {
    crate::ssr::relay().await
}
