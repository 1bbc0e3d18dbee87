//! The top navigation bar.

use leptos::prelude::*;
use leptos_router::components::A;

/// Links to every section; the router marks the current one with `aria-current="page"`.
#[component]
pub fn NavBar() -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Eventide"</a>
            <nav aria-label="Main">
                <ul>
                    <li><A href="/" exact=true>"Dashboard"</A></li>
                    <li><A href="/orders">"Orders"</A></li>
                    <li><A href="/audit">"Audit"</A></li>
                    <li><A href="/admin">"Admin"</A></li>
                </ul>
            </nav>
        </header>
    }
}
