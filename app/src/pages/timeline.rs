//! One stream's audit timeline: every event with its envelope and data, live, with time travel:
//! pick a version and see the aggregate's state then, replayed in the browser with the shared
//! `domain` code, the fields changed by that version highlighted. An order is shown as its page
//! shows it (lines, totals, status; `order_stepper.rs`), with its raw state one click away.

use domain::live::Topic;
use domain::views::EventView;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::Value;

use crate::api::queries::stream_events;
use crate::components::error_box::ErrorBox;
use crate::format::time;
use crate::live::changed_of_with;
use crate::pages::order_stepper::OrderAtVersion;
use crate::time_travel::{changed_fields, replay_typed, state_at};

#[component]
pub fn TimelinePage() -> impl IntoView {
    let params = use_params_map();
    let stream_id = Memo::new(move |_| params.read().get("stream").unwrap_or_default());
    // Changes caused by this stream's events (or resyncs).
    let touched = changed_of_with(move || {
        vec![Topic::Stream {
            id: stream_id.get(),
        }]
    });
    let events = Resource::new(
        move || (stream_id.get(), touched.get()),
        |(id, _)| stream_events(id),
    );
    // The version being looked at; None = the latest.
    let (selected, set_selected) = signal(None::<i64>);

    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Timeline " <span class="mono">{move || stream_id.get()}</span></h1>
            <Transition fallback=|| view! { <p class="muted">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No events in this stream."</p> }.into_any(),
                        Ok(list) => view! { <Timeline events=list selected set_selected/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Timeline(
    events: Vec<EventView>,
    selected: ReadSignal<Option<i64>>,
    set_selected: WriteSignal<Option<i64>>,
) -> impl IntoView {
    let latest = events.last().map(|e| e.version).unwrap_or(0);
    let stream_type = events
        .first()
        .map(|e| e.stream_type.clone())
        .unwrap_or_default();
    let events = StoredValue::new(events);
    let version = Memo::new(move |_| selected.get().unwrap_or(latest).clamp(1, latest.max(1)));
    let state = Memo::new({
        let stream_type = stream_type.clone();
        move |_| {
            events.with_value(|ev| {
                let v = version.get();
                let now = state_at(&stream_type, ev, v);
                let before = state_at(&stream_type, ev, v - 1);
                (now, before)
            })
        }
    });
    let is_order = stream_type == "order";
    // The order as its page shows it, at the selected version and the one before.
    let order = Memo::new(move |_| {
        if !is_order {
            return None;
        }
        events.with_value(|ev| {
            let v = version.get();
            let now = replay_typed::<domain::order::Order>(ev, v).ok()?;
            let before = replay_typed::<domain::order::Order>(ev, v - 1).ok()?;
            Some((now, before))
        })
    });
    view! {
        <div class="grid" style="grid-template-columns: minmax(280px, 1fr) minmax(280px, 1fr)">
            <div class="card">
                <h2>"Time travel"</h2>
                <label>{move || format!("State at version {} of {}", version.get(), latest)}
                    <input type="range" name="version" min="1" max=latest.to_string() prop:value=move || version.get().to_string()
                        aria-label="Version"
                        on:input=move |ev| set_selected.set(event_target_value(&ev).parse().ok())/>
                </label>
                <div data-testid="state-at-version" data-version=move || version.get().to_string()>
                    {move || order.get().map(|(now, before)| view! { <OrderAtVersion now before/> })}
                    {move || {
                        let table = match state.get() {
                            (Err(e), _) => view! { <div class="error" role="alert">{e}</div> }.into_any(),
                            (Ok(now), before) => {
                                let changed = changed_fields(&before.unwrap_or(Value::Null), &now);
                                view! { <StateTable state=now changed/> }.into_any()
                            }
                        };
                        // An order reads like its page; its raw state stays one click away.
                        if is_order {
                            view! { <details data-testid="raw-state"><summary>"Raw state (JSON fields)"</summary>{table}</details> }.into_any()
                        } else {
                            table
                        }
                    }}
                </div>
            </div>
            <div class="card">
                <h2>"Events"</h2>
                <ol class="timeline" data-testid="timeline">
                    {events.get_value().into_iter().map(|e| {
                        let v = e.version;
                        view! {
                            <li class:selected=move || version.get() == v data-event-type=e.event_type.clone()>
                                <div>
                                    <button class="secondary" on:click=move |_| set_selected.set(Some(v)) aria-label=format!("Show state at version {v}")>
                                        {format!("v{v}")}
                                    </button>
                                    " " <strong>{e.event_type.clone()}</strong>
                                    " " <span class="muted">{format!("schema v{} · position {}", e.schema_version, e.position)}</span>
                                </div>
                                <div class="muted mono">{time(&e.recorded_at)} " · by " {match (&e.user_name, &e.user_role, &e.user_id) {
                                    (Some(name), Some(role), _) => format!("{name} ({role})"),
                                    (_, _, Some(id)) => id.clone(),
                                    _ => "unknown".into(),
                                }}</div>
                                <div class="muted mono">
                                    "correlation "
                                    {e.correlation_id.map(|c| view! { <a href=format!("/audit/correlation/{c}")>{c.to_string()}</a> })}
                                    " · causation " {e.causation_id.map(|c| c.to_string()).unwrap_or_default()}
                                </div>
                                <pre>{serde_json::to_string_pretty(&e.data).unwrap_or_default()}</pre>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            </div>
        </div>
    }
}

#[component]
fn StateTable(state: Value, changed: Vec<String>) -> impl IntoView {
    let rows = match state {
        Value::Object(map) => map.into_iter().collect::<Vec<_>>(),
        other => vec![("state".to_string(), other)],
    };
    view! {
        <table>
            <tbody>
                {rows.into_iter().map(|(k, v)| {
                    let is_changed = changed.contains(&k);
                    let field = k.clone();
                    view! {
                        <tr class:changed=is_changed data-field=field data-changed=is_changed.to_string()>
                            <th>{k}</th>
                            <td class="mono">{match v { Value::String(s) => s, other => other.to_string() }}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
