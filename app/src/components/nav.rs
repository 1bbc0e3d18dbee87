//! The top navigation bar: only the sections the signed-in user may use, who they are, and the
//! live connection state.

use domain::account::Capability;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::auth::SignOut;
use crate::live::use_live;
use crate::viewer::{ViewerContext, can, reload_to, viewer};

/// Links to every section the user may use; the router marks the current one with
/// `aria-current="page"`.
#[component]
pub fn NavBar() -> impl IntoView {
    let live = use_live();
    let who = viewer();
    let known = use_context::<ViewerContext>().map(|c| c.known);
    let signed_in = move || who.get().is_some();
    let insights = can(Capability::Insights);
    let customers = can(Capability::Customers);
    let event_log = can(Capability::EventLog);
    let operations = can(Capability::Operations);
    let users = can(Capability::Users);
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            reload_to("/signin");
        }
    });
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Eventide"</a>
            <nav aria-label="Main">
                <ul>
                    <li class:hidden=move || !insights.get()><A href="/" exact=true>"Dashboard"</A></li>
                    <li class:hidden=move || !signed_in()><A href="/orders">{move || if insights.get() { "Orders" } else { "My orders" }}</A></li>
                    <li class:hidden=move || !customers.get()><A href="/customers">"Customers"</A></li>
                    <li><A href="/products">"Products"</A></li>
                    <li class:hidden=move || !event_log.get()><A href="/audit">"Audit"</A></li>
                    <li class:hidden=move || !event_log.get()><A href="/events">"Event log"</A></li>
                    <li class:hidden=move || !users.get()><A href="/users">"Users"</A></li>
                    <li class:hidden=move || !operations.get()><A href="/admin">"Admin"</A></li>
                </ul>
            </nav>
            <span class="account" data-testid="account" data-known=move || known.is_some_and(|k| k.get()).to_string()>
                <span class="muted">{move || who.get().map(|v| format!("{} · {}", v.display_name, v.role)).unwrap_or_default()}</span>
                <span class:hidden=move || !signed_in()><A href="/tokens">"API tokens"</A></span>
                <button class="secondary" class:hidden=move || !signed_in() on:click=move |_| { sign_out.dispatch(SignOut {}); }>"Sign out"</button>
                <span class:hidden=signed_in><A href="/signin">"Sign in"</A></span>
            </span>
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
