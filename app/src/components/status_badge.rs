//! A coloured status label.

use leptos::prelude::*;

#[component]
pub fn StatusBadge(#[prop(into)] status: String) -> impl IntoView {
    let class = format!("badge {status}");
    let label = status.replace('_', " ");
    view! { <span class=class data-status=status>{label}</span> }
}
