//! The top navigation bar, with the live connection state.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::live::use_live;

/// Links to every section; the router marks the current one with `aria-current="page"`.
#[component]
pub fn NavBar() -> impl IntoView {
    let live = use_live();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Eventide"</a>
            <nav aria-label="Main">
                <ul>
                    <li><A href="/" exact=true>"Dashboard"</A></li>
                    <li><A href="/orders">"Orders"</A></li>
                    <li><A href="/customers">"Customers"</A></li>
                    <li><A href="/products">"Products"</A></li>
                    <li><A href="/audit">"Audit"</A></li>
                    <li><A href="/admin">"Admin"</A></li>
                </ul>
            </nav>
            <span class="status" role="status" data-live=move || live.connected.get().to_string()>
                {move || if live.connected.get() {
                    format!("live · position {}", live.position.get())
                } else {
                    "connecting…".to_string()
                }}
            </span>
        </header>
    }
}
