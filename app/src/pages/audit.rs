//! The Audit page.

use leptos::prelude::*;

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Audit"</h1>
            <p class="lead">"The stream browser and each aggregate's audit timeline with time travel."</p>
        </section>
    }
}
