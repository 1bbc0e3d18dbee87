//! One stream's audit timeline: every event with its envelope and data, live, with time travel:
//! pick a version and see the aggregate's state then, replayed in the browser with the shared
//! `domain` code, the fields changed by that version highlighted.

use domain::live::Topic;
use domain::views::EventView;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::Value;

use crate::api::queries::{correlated_events, stream_events};
use crate::components::error_box::ErrorBox;
use crate::format::time;
use crate::live::changed_of_with;
use crate::time_travel::{changed_fields, state_at};

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
                    {move || match state.get() {
                        (Err(e), _) => view! { <div class="error" role="alert">{e}</div> }.into_any(),
                        (Ok(now), before) => {
                            let changed = changed_fields(&before.unwrap_or(Value::Null), &now);
                            view! { <StateTable state=now changed/> }.into_any()
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

/// Every event sharing one correlation id, across streams.
#[component]
pub fn CorrelationPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<uuid::Uuid>().ok())
    });
    let events = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => correlated_events(id).await,
                None => Err(crate::error::UiError::not_found("That correlation id")),
            }
        },
    );
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Correlation " <span class="mono">{move || id.get().map(|i| i.to_string()).unwrap_or_default()}</span></h1>
            <Transition fallback=|| view! { <p class="muted">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) => view! {
                            <table data-testid="correlated">
                                <thead><tr><th class="num">"Position"</th><th>"Stream"</th><th>"Event"</th><th>"Time"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|e| view! {
                                        <tr>
                                            <td class="num">{e.position}</td>
                                            <td><a class="mono" href=format!("/audit/{}", e.stream_id)>{e.stream_id.clone()}</a></td>
                                            <td>{e.event_type}</td>
                                            <td class="muted">{time(&e.recorded_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
