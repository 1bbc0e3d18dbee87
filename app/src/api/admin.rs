//! The admin panel's calls. Every one but `admin_login` requires the admin session cookie.

use leptos::prelude::*;

use crate::error::UiError;

/// Whether this browser holds an admin session.
#[server(prefix = "/fn")]
pub async fn admin_session() -> Result<bool, UiError> {
    crate::ssr::admin_session().await
}

#[server(prefix = "/fn")]
pub async fn admin_login(token: String) -> Result<(), UiError> {
    crate::ssr::admin_login(token).await
}

#[server(prefix = "/fn")]
pub async fn admin_logout() -> Result<(), UiError> {
    crate::ssr::admin_logout().await
}

/// Rebuilds one projection, or all of them when `name` is `None`.
#[server(prefix = "/fn")]
pub async fn rebuild_projection(name: Option<String>) -> Result<(), UiError> {
    crate::ssr::rebuild(name).await
}

#[server(prefix = "/fn")]
pub async fn retry_projection(name: String) -> Result<(), UiError> {
    crate::ssr::retry(name).await
}

#[server(prefix = "/fn")]
pub async fn skip_event(name: String, reason: String) -> Result<(), UiError> {
    crate::ssr::skip(name, reason).await
}

/// Reads the event the relay faulted on again.
#[server(prefix = "/fn")]
pub async fn retry_relay() -> Result<(), UiError> {
    crate::ssr::relay_retry().await
}

/// Skips the event the relay faulted on, with a reason.
#[server(prefix = "/fn")]
pub async fn skip_relay_event(reason: String) -> Result<(), UiError> {
    crate::ssr::relay_skip(reason).await
}

/// The event log's hash chain head and the last verify.
#[server(prefix = "/fn")]
pub async fn chain_status() -> Result<domain::integrity::ChainStatus, UiError> {
    crate::ssr::chain_status().await
}

/// Starts a verify of the whole event log (an error while one runs).
#[server(prefix = "/fn")]
pub async fn start_chain_verify() -> Result<(), UiError> {
    crate::ssr::start_chain_verify().await
}
