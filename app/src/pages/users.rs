//! Accounts (admins): create staff and admin accounts, change a role, disable or enable an
//! account. Every change is an event of the account's stream, in its audit timeline.

use leptos::prelude::*;

use crate::api::auth::{ChangeRole, CreateUser, SetUserEnabled};
use crate::components::error_box::ActionError;

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let change = ServerAction::<ChangeRole>::new();
    let enabled = ServerAction::<SetUserEnabled>::new();
    let field = || RwSignal::new(String::new());
    let (username, password, display_name) = (field(), field(), field());
    let role = RwSignal::new("staff".to_string());
    let (target, new_role, reason) = (field(), RwSignal::new("staff".to_string()), field());
    let bind = |signal: RwSignal<String>| move |ev| signal.set(event_target_value(&ev));
    let done = |ok: bool| {
        if ok {
            Some(view! { <p class="notice" role="status">"Saved."</p> })
        } else {
            None
        }
    };
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Users"</h1>
            <div class="card">
                <h2>"New staff or admin account"</h2>
                <p class="muted">"Customers sign up themselves."</p>
                <form class="row" aria-label="New account" on:submit=move |ev| {
                    ev.prevent_default();
                    create.dispatch(CreateUser { username: username.get_untracked(), password: password.get_untracked(), display_name: display_name.get_untracked(), role: role.get_untracked() });
                }>
                    <label>"Username"<input name="username" required prop:value=username on:input=bind(username)/></label>
                    <label>"Password"<input name="password" type="password" autocomplete="new-password" required minlength="8" prop:value=password on:input=bind(password)/></label>
                    <label>"Display name"<input name="display-name" required prop:value=display_name on:input=bind(display_name)/></label>
                    <label>"Role"<select name="role" on:change=bind(role)><option value="staff">"staff"</option><option value="admin">"admin"</option></select></label>
                    <button type="submit" disabled=move || create.pending().get()>"Create"</button>
                </form>
                <ActionError result=create.value().into()/>
                {move || done(matches!(create.value().get(), Some(Ok(()))))}
            </div>
            <div class="card">
                <h2>"Change an account"</h2>
                <form class="row" aria-label="Change role" on:submit=move |ev| {
                    ev.prevent_default();
                    change.dispatch(ChangeRole { username: target.get_untracked(), role: new_role.get_untracked() });
                }>
                    <label>"Username"<input name="target" required prop:value=target on:input=bind(target)/></label>
                    <label>"Role"<select name="new-role" on:change=bind(new_role)><option value="staff">"staff"</option><option value="admin">"admin"</option><option value="customer">"customer"</option></select></label>
                    <button type="submit" disabled=move || change.pending().get()>"Change role"</button>
                </form>
                <ActionError result=change.value().into()/>
                {move || done(matches!(change.value().get(), Some(Ok(()))))}
                <form class="row" aria-label="Disable or enable" on:submit=|ev| ev.prevent_default()>
                    <label>"Reason (to disable)"<input name="reason" prop:value=reason on:input=bind(reason)/></label>
                    <button type="button" class="secondary" on:click=move |_| { enabled.dispatch(SetUserEnabled { username: target.get_untracked(), enabled: false, reason: reason.get_untracked() }); }>"Disable"</button>
                    <button type="button" class="secondary" on:click=move |_| { enabled.dispatch(SetUserEnabled { username: target.get_untracked(), enabled: true, reason: String::new() }); }>"Enable"</button>
                </form>
                <ActionError result=enabled.value().into()/>
                {move || done(matches!(enabled.value().get(), Some(Ok(()))))}
            </div>
        </section>
    }
}
