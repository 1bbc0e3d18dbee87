//! The audit browser: every stream, filtered by type and id prefix, paged by stream id.

use leptos::prelude::*;

use crate::api::queries::list_streams;
use crate::components::error_box::ErrorBox;
use crate::format::time;

#[component]
pub fn AuditPage() -> impl IntoView {
    let (stream_type, set_stream_type) = signal(String::new());
    let (prefix, set_prefix) = signal(String::new());
    let (pages, set_pages) = signal(Vec::<Option<String>>::new());
    let (after, set_after) = signal(None::<String>);
    let streams = Resource::new(
        move || (stream_type.get(), prefix.get(), after.get()),
        |(t, p, a)| {
            list_streams(
                (!t.is_empty()).then_some(t),
                (!p.is_empty()).then_some(p),
                a,
            )
        },
    );
    let reset = move || {
        set_pages.set(Vec::new());
        set_after.set(None);
    };
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Audit"</h1>
            <p class="lead">"Every aggregate's full history, straight from the event log."</p>
            <div class="card">
                <form class="row" aria-label="Find streams" on:submit=|ev| ev.prevent_default()>
                    <label>"Type"
                        <select name="type" on:change=move |ev| { set_stream_type.set(event_target_value(&ev)); reset(); }>
                            <option value="">"All"</option>
                            <option value="order">"Orders"</option>
                            <option value="customer">"Customers"</option>
                            <option value="product">"Products"</option>
                        </select>
                    </label>
                    <label>"Stream id starts with"
                        <input name="prefix" placeholder="order-0193" prop:value=prefix on:input=move |ev| { set_prefix.set(event_target_value(&ev)); reset(); }/>
                    </label>
                </form>
                <Transition fallback=|| view! { <p class="muted">"Loading streams…"</p> }>
                    {move || Suspend::new(async move {
                        match streams.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(list) => {
                                let last = list.last().map(|s| s.stream_id.clone());
                                let full = list.len() >= 50;
                                view! {
                                    <table data-testid="streams-table">
                                        <thead><tr><th>"Stream"</th><th>"Type"</th><th class="num">"Version"</th><th class="num">"Events"</th><th class="hide-sm">"Last event"</th></tr></thead>
                                        <tbody>
                                            {list.into_iter().map(|s| view! {
                                                <tr>
                                                    <td><a class="mono" href=format!("/audit/{}", s.stream_id)>{s.stream_id.clone()}</a></td>
                                                    <td>{s.stream_type}</td>
                                                    <td class="num">{s.version}</td>
                                                    <td class="num">{s.event_count}</td>
                                                    <td class="hide-sm muted">{time(&s.last_event_at)}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    <div class="actions">
                                        <button class="secondary" disabled=move || pages.with(Vec::is_empty) on:click=move |_| {
                                            let mut stack = pages.get_untracked();
                                            let previous = stack.pop().flatten();
                                            set_pages.set(stack);
                                            set_after.set(previous);
                                        }>"Previous"</button>
                                        <button class="secondary" disabled=!full on:click=move |_| {
                                            set_pages.update(|s| s.push(after.get_untracked()));
                                            set_after.set(last.clone());
                                        }>"Next"</button>
                                    </div>
                                }.into_any()
                            }
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}
