//! Accounts (admins): the list (the `users` read model, live, paged), create staff and admin
//! accounts, change a role, disable or enable an account. Every change is an event of the
//! account's stream, in its audit timeline.

use domain::live::Topic;
use leptos::prelude::*;

use crate::api::auth::{ChangeRole, CreateUser, SetUserEnabled, list_users};
use crate::components::error_box::{ActionError, ErrorBox};
use crate::components::pager::{Pager, Paging};
use crate::format::time;
use crate::live::changed_of;

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
    // Read your writes: the list waits for the position the last change answered.
    let (min_position, set_min_position) = signal(None::<i64>);
    Effect::new(move |_| {
        for value in [
            create.value().get(),
            change.value().get(),
            enabled.value().get(),
        ] {
            if let Some(Ok(reply)) = value {
                set_min_position.update(|m| *m = Some(m.unwrap_or(0).max(reply.position)));
            }
        }
    });
    let changed = changed_of([Topic::Users]);
    let paging = Paging::new();
    let users = Resource::new(
        move || (changed.get(), paging.cursor(), min_position.get()),
        |(_, cursor, min)| list_users(cursor, min),
    );
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
                <Transition fallback=|| view! { <p class="muted">"Loading accounts…"</p> }>
                    {move || Suspend::new(async move {
                        match users.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(page) => view! {
                                <table data-testid="users-table">
                                    <thead><tr><th>"Username"</th><th>"Name"</th><th>"Role"</th><th>"State"</th><th class="num hide-sm">"Tokens"</th><th class="hide-sm">"Since"</th><th>"Audit"</th></tr></thead>
                                    <tbody>
                                        {page.users.into_iter().map(|u| {
                                            let username = u.username.clone();
                                            view! {
                                                <tr data-username=u.username.clone()>
                                                    <td><button type="button" class="link mono" title="Change this account" on:click=move |_| target.set(username.clone())>{u.username.clone()}</button></td>
                                                    <td>{u.display_name}</td>
                                                    <td>{u.role.as_str()}</td>
                                                    <td>{if u.disabled { "disabled" } else { "active" }}</td>
                                                    <td class="num hide-sm">{u.tokens}</td>
                                                    <td class="hide-sm muted">{time(&u.opened_at)}</td>
                                                    <td><a href=format!("/audit/account-{}", u.account_id)>"timeline"</a></td>
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
                {move || done(matches!(create.value().get(), Some(Ok(_))))}
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
                {move || done(matches!(change.value().get(), Some(Ok(_))))}
                <form class="row" aria-label="Disable or enable" on:submit=|ev| ev.prevent_default()>
                    <label>"Reason (to disable)"<input name="reason" prop:value=reason on:input=bind(reason)/></label>
                    <button type="button" class="secondary" on:click=move |_| { enabled.dispatch(SetUserEnabled { username: target.get_untracked(), enabled: false, reason: reason.get_untracked() }); }>"Disable"</button>
                    <button type="button" class="secondary" on:click=move |_| { enabled.dispatch(SetUserEnabled { username: target.get_untracked(), enabled: true, reason: String::new() }); }>"Enable"</button>
                </form>
                <ActionError result=enabled.value().into()/>
                {move || done(matches!(enabled.value().get(), Some(Ok(_))))}
            </div>
        </section>
    }
}
