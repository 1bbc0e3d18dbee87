//! The Admin page.

use leptos::prelude::*;

#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Admin"</h1>
            <p class="lead">"Projection status, rebuilds, faulted projections and the broker relay."</p>
        </section>
    }
}
