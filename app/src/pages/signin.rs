//! Sign in, or sign up as a customer (which registers the customer and the account together).

use leptos::prelude::*;

use crate::api::auth::{SignIn, SignUp};
use crate::components::error_box::ActionError;
use crate::viewer::reload_to;

#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let sign_up = ServerAction::<SignUp>::new();
    Effect::new(move |_| {
        if matches!(sign_in.value().get(), Some(Ok(_)))
            || matches!(sign_up.value().get(), Some(Ok(_)))
        {
            reload_to("/orders");
        }
    });
    let (username, password) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let new_user = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let bind = |signal: RwSignal<String>| move |ev| signal.set(event_target_value(&ev));
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Sign in"</h1>
            <div class="card">
                <form class="row" aria-label="Sign in" on:submit=move |ev| {
                    ev.prevent_default();
                    sign_in.dispatch(SignIn { username: username.get_untracked(), password: password.get_untracked() });
                }>
                    <label>"Username"<input name="username" autocomplete="username" required prop:value=username on:input=bind(username)/></label>
                    <label>"Password"<input name="password" type="password" autocomplete="current-password" required prop:value=password on:input=bind(password)/></label>
                    <button type="submit" disabled=move || sign_in.pending().get()>"Sign in"</button>
                </form>
                <ActionError result=sign_in.value().into()/>
            </div>
            <div class="card">
                <h2>"New here? Sign up"</h2>
                <form class="row" aria-label="Sign up" on:submit=move |ev| {
                    ev.prevent_default();
                    sign_up.dispatch(SignUp {
                        username: new_user.get_untracked(),
                        password: new_password.get_untracked(),
                        name: name.get_untracked(),
                        email: email.get_untracked(),
                    });
                }>
                    <label>"Username"<input name="new-username" autocomplete="username" required prop:value=new_user on:input=bind(new_user)/></label>
                    <label>"Password (8+ characters)"<input name="new-password" type="password" autocomplete="new-password" required minlength="8" prop:value=new_password on:input=bind(new_password)/></label>
                    <label>"Your name"<input name="name" autocomplete="name" required prop:value=name on:input=bind(name)/></label>
                    <label>"Email"<input name="email" type="email" autocomplete="email" required prop:value=email on:input=bind(email)/></label>
                    <button type="submit" disabled=move || sign_up.pending().get()>"Sign up"</button>
                </form>
                <ActionError result=sign_up.value().into()/>
            </div>
        </section>
    }
}
