//! The Dashboard page.

use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Dashboard"</h1>
            <p class="lead">"Orders by status, revenue, average order value, orders per minute, top products, the live activity feed and projection lag."</p>
        </section>
    }
}
