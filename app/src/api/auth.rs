//! Sign-up, sign-in, sign-out and who is signed in. The session cookie is HttpOnly: the browser
//! never sees it, these calls set and end it.

use domain::views::Viewer;
use leptos::prelude::*;

use crate::error::UiError;

/// Who is signed in (`None`: nobody).
#[server(prefix = "/fn")]
pub async fn me() -> Result<Option<Viewer>, UiError> {
    crate::ssr::me().await
}

#[server(prefix = "/fn")]
pub async fn sign_in(username: String, password: String) -> Result<Viewer, UiError> {
    crate::ssr::sign_in(username, password).await
}

#[server(prefix = "/fn")]
pub async fn sign_up(
    username: String,
    password: String,
    name: String,
    email: String,
) -> Result<Viewer, UiError> {
    crate::ssr::sign_up(username, password, name, email).await
}

#[server(prefix = "/fn")]
pub async fn sign_out() -> Result<(), UiError> {
    crate::ssr::sign_out().await
}

/// My API tokens (names and ids).
#[server(prefix = "/fn")]
pub async fn my_tokens() -> Result<Vec<domain::views::TokenView>, UiError> {
    crate::ssr::my_tokens().await
}

/// Creates an API token; the answer holds its secret, shown once.
#[server(prefix = "/fn")]
pub async fn create_token(name: String) -> Result<domain::views::TokenCreated, UiError> {
    crate::ssr::create_token(name).await
}

#[server(prefix = "/fn")]
pub async fn revoke_token(id: uuid::Uuid) -> Result<(), UiError> {
    crate::ssr::revoke_token(id).await
}

/// A page of accounts (admins; `cursor` from the previous page's `next_cursor`).
#[server(prefix = "/fn")]
pub async fn list_users(
    cursor: Option<String>,
    min_position: Option<i64>,
) -> Result<domain::views::UserPage, UiError> {
    crate::ssr::users(
        domain::requests::ListPage {
            cursor,
            limit: None,
        },
        min_position,
    )
    .await
}

/// An admin creates a staff or admin account.
#[server(prefix = "/fn")]
pub async fn create_user(
    username: String,
    password: String,
    display_name: String,
    role: String,
) -> Result<domain::views::CommandReply, UiError> {
    crate::ssr::create_user(username, password, display_name, role).await
}

/// An admin changes an account's role.
#[server(prefix = "/fn")]
pub async fn change_role(
    username: String,
    role: String,
) -> Result<domain::views::CommandReply, UiError> {
    crate::ssr::change_role(username, role).await
}

/// An admin disables (with a reason) or enables an account.
#[server(prefix = "/fn")]
pub async fn set_user_enabled(
    username: String,
    enabled: bool,
    reason: String,
) -> Result<domain::views::CommandReply, UiError> {
    crate::ssr::set_user_enabled(username, enabled, reason).await
}
