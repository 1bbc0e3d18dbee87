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
