//! Customers: the list (from the customers read model) and the registration form.

use domain::live::Topic;
use leptos::prelude::*;

use crate::api::commands::RegisterCustomer;
use crate::api::queries::list_customers;
use crate::components::error_box::{ActionError, ErrorBox};
use crate::components::pager::{Pager, Paging};
use crate::format::time;
use crate::live::changed_of;

#[component]
pub fn CustomersPage() -> impl IntoView {
    let changed = changed_of([Topic::Customers]);
    let register = ServerAction::<RegisterCustomer>::new();
    let (min_position, set_min_position) = signal(None::<i64>);
    Effect::new(move |_| {
        if let Some(Ok(reply)) = register.value().get() {
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
            <div class="card">
                <Transition fallback=|| view! { <p class="muted">"Loading customers…"</p> }>
                    {move || Suspend::new(async move {
                        match customers.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(page) => view! {
                                <table data-testid="customers-table">
                                    <thead><tr><th>"Name"</th><th>"Email"</th><th class="hide-sm">"Registered"</th><th>"Audit"</th></tr></thead>
                                    <tbody>
                                        {page.customers.into_iter().map(|c| view! {
                                            <tr>
                                                <td>{c.name}</td>
                                                <td>{c.email}</td>
                                                <td class="hide-sm muted">{time(&c.registered_at)}</td>
                                                <td><a href=format!("/audit/customer-{}", c.customer_id)>"timeline"</a></td>
                                            </tr>
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
