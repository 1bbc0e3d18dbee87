//! Shows an error where it happened, announced to screen readers.

use leptos::prelude::*;

use crate::error::UiError;

#[component]
pub fn ErrorBox(error: UiError) -> impl IntoView {
    let class = if error.is_conflict() {
        "notice"
    } else {
        "error"
    };
    view! { <div class=class role="alert">{error.to_string()}</div> }
}

/// Renders the error of an action's last result, if any.
#[component]
pub fn ActionError<T: Clone + Send + Sync + 'static>(
    result: Signal<Option<Result<T, UiError>>>,
) -> impl IntoView {
    move || match result.get() {
        Some(Err(e)) => Some(view! { <ErrorBox error=e/> }),
        _ => None,
    }
}
