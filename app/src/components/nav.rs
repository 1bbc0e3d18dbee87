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
    let signed_in = Signal::derive(move || who.get().is_some());
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
    let loaded = use_context::<ViewerContext>();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Eventide"</a>
            <nav aria-label="Main">
                <Transition fallback=|| ()>
                    {move || {
                        // Waits for the viewer (server-rendered), so links never flash.
                        let _ = loaded.map(|ViewerContext(r)| r.get());
                        view! {
                            <ul>
                                <Show when=move || insights.get()><li><A href="/" exact=true>"Dashboard"</A></li></Show>
                                <Show when=move || signed_in.get()><li><A href="/orders">{move || if insights.get() { "Orders" } else { "My orders" }}</A></li></Show>
                                <Show when=move || customers.get()><li><A href="/customers">"Customers"</A></li></Show>
                                <li><A href="/products">"Products"</A></li>
                                <Show when=move || event_log.get()><li><A href="/audit">"Audit"</A></li></Show>
                                <Show when=move || users.get()><li><A href="/users">"Users"</A></li></Show>
                                <Show when=move || operations.get()><li><A href="/admin">"Admin"</A></li></Show>
                            </ul>
                        }
                    }}
                </Transition>
            </nav>
            <span class="account" data-testid="account">
                <Transition fallback=|| ()>
                    {move || {
                        let _ = loaded.map(|ViewerContext(r)| r.get());
                        match who.get() {
                            Some(v) => view! {
                                <span class="muted">{format!("{} · {}", v.display_name, v.role)}</span>
                                " "
                                <A href="/tokens">"API tokens"</A>
                                " "
                                <button class="secondary" on:click=move |_| { sign_out.dispatch(SignOut {}); }>"Sign out"</button>
                            }.into_any(),
                            None => view! { <A href="/signin">"Sign in"</A> }.into_any(),
                        }
                    }}
                </Transition>
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
