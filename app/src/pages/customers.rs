//! Customers: the list (from the customers read model), the registration form and, for admins,
//! the erasure of a customer's personal data (with a reason; it cannot be undone).

use domain::account::Capability;
use domain::live::Topic;
use domain::values::ERASED;
use leptos::prelude::*;
use uuid::Uuid;

use crate::api::commands::{EraseCustomer, RegisterCustomer};
use crate::api::queries::list_customers;
use crate::components::error_box::{ActionError, ErrorBox};
use crate::components::pager::{Pager, Paging};
use crate::format::time;
use crate::live::changed_of;
use crate::viewer::can;

#[component]
pub fn CustomersPage() -> impl IntoView {
    let changed = changed_of([Topic::Customers]);
    let register = ServerAction::<RegisterCustomer>::new();
    let erase = ServerAction::<EraseCustomer>::new();
    let may_erase = can(Capability::Erasure);
    let (min_position, set_min_position) = signal(None::<i64>);
    Effect::new(move |_| {
        if let Some(Ok(reply)) = register.value().get() {
            set_min_position.set(Some(reply.position));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(reply)) = erase.value().get() {
            set_min_position.set(Some(reply.position));
        }
    });
    let paging = Paging::new();
    let customers = Resource::new(
        move || (changed.get(), paging.cursor(), min_position.get()),
        |(_, cursor, min)| list_customers(cursor, None, min),
    );
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Customers"</h1>
            <div class="card" style="margin-bottom:1rem">
                <h2>"Register a customer"</h2>
                <form class="row" aria-label="Register a customer" on:submit=move |ev| {
                    ev.prevent_default();
                    register.dispatch(RegisterCustomer { name: name.get_untracked(), email: email.get_untracked() });
                }>
                    <label>"Name"<input name="name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/></label>
                    <label>"Email"<input name="email" type="email" required prop:value=email on:input=move |ev| email.set(event_target_value(&ev))/></label>
                    <button type="submit" disabled=move || register.pending().get()>"Register"</button>
                </form>
                <ActionError result=register.value().into()/>
            </div>
            <ActionError result=erase.value().into()/>
            <div class="card">
                <Transition fallback=|| view! { <p class="muted">"Loading customers…"</p> }>
                    {move || Suspend::new(async move {
                        match customers.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(page) => view! {
                                <table data-testid="customers-table">
                                    <thead><tr><th>"Name"</th><th>"Email"</th><th class="hide-sm">"Registered"</th><th>"Audit"</th><Show when=move || may_erase.get()><th>"Personal data"</th></Show></tr></thead>
                                    <tbody>
                                        {page.customers.into_iter().map(|c| {
                                            let erased = c.name == ERASED && c.email == ERASED;
                                            let id = c.customer_id;
                                            view! {
                                                <tr>
                                                    <td class:muted=erased>{c.name}</td>
                                                    <td class:muted=erased>{c.email}</td>
                                                    <td class="hide-sm muted">{time(&c.registered_at)}</td>
                                                    <td><a href=format!("/audit/customer-{}", c.customer_id)>"timeline"</a></td>
                                                    <Show when=move || may_erase.get()>
                                                        <td><EraseControl id erased erase/></td>
                                                    </Show>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <Pager paging next=page.next_cursor/>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}

/// "Erase…", then a reason and a confirmation; "erased" once done.
#[component]
fn EraseControl(id: Uuid, erased: bool, erase: ServerAction<EraseCustomer>) -> impl IntoView {
    let open = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    if erased {
        return view! { <span class="muted" data-testid="erased">"erased"</span> }.into_any();
    }
    view! {
        <Show
            when=move || open.get()
            fallback=move || view! { <button type="button" class="danger" on:click=move |_| open.set(true)>"Erase…"</button> }
        >
            <form class="row" aria-label="Erase personal data" on:submit=move |ev| {
                ev.prevent_default();
                erase.dispatch(EraseCustomer { customer_id: id, reason: reason.get_untracked() });
                open.set(false);
            }>
                <label>"Reason"<input name="reason" required prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))/></label>
                <button type="submit" class="danger" disabled=move || erase.pending().get()>"Erase personal data"</button>
                <button type="button" on:click=move |_| open.set(false)>"Keep"</button>
            </form>
        </Show>
    }
    .into_any()
}
