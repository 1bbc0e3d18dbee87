//! Personal API tokens: create one (its secret is shown once, here), see their names, revoke.

use leptos::prelude::*;

use crate::api::auth::{CreateToken, RevokeToken, my_tokens};
use crate::components::error_box::{ActionError, ErrorBox};

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| my_tokens(),
    );
    let name = RwSignal::new(String::new());
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"API tokens"</h1>
            <div class="card">
                <p class="muted">"For scripts and other machine clients: send it as Authorization: Bearer <token>. It acts as you."</p>
                <form class="row" aria-label="New token" on:submit=move |ev| {
                    ev.prevent_default();
                    create.dispatch(CreateToken { name: name.get_untracked() });
                }>
                    <label>"Name"<input name="token-name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/></label>
                    <button type="submit" disabled=move || create.pending().get()>"Create token"</button>
                </form>
                <ActionError result=create.value().into()/>
                {move || create.value().get().and_then(Result::ok).map(|t| view! {
                    <div class="notice" role="status" data-testid="new-token">
                        "Copy it now, it is not shown again: " <code>{t.token}</code>
                    </div>
                })}
            </div>
            <div class="card">
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match tokens.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(list) if list.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                            Ok(list) => view! {
                                <table data-testid="tokens-table">
                                    <thead><tr><th>"Name"</th><th>"Id"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|t| view! {
                                            <tr>
                                                <td>{t.name.clone()}</td>
                                                <td class="mono">{t.id.to_string()}</td>
                                                <td><button class="secondary" on:click=move |_| { revoke.dispatch(RevokeToken { id: t.id }); }>"Revoke"</button></td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                        }
                    })}
                </Transition>
                <ActionError result=revoke.value().into()/>
            </div>
        </section>
    }
}
