//! The Orders page.

use leptos::prelude::*;

#[component]
pub fn OrdersPage() -> impl IntoView {
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Orders"</h1>
            <p class="lead">"The live order list with filters and paging, and the new-order form."</p>
        </section>
    }
}
