//! The dead letters of the admin panel: every event a projection halted on, open and resolved,
//! with its payload, the error, attempts and times; retry or skip (with a reason) an open one;
//! who resolved what and when. Refetched when a projection's fault appears or clears (the
//! websocket's status pushes) and after each action.

use domain::console::{DeadLetterResolution, DeadLetterView};
use leptos::prelude::*;

use crate::api::admin::{RetryProjection, SkipEvent};
use crate::api::queries::list_dead_letters;
use crate::components::error_box::{ActionError, ErrorBox};
use crate::format::time;
use crate::live::use_live;

#[component]
pub fn DeadLettersPanel() -> impl IntoView {
    let live = use_live();
    let retry = ServerAction::<RetryProjection>::new();
    let skip = ServerAction::<SkipEvent>::new();
    // The open faults as the status pushes show them: a new or cleared one refetches the list.
    let faults = Memo::new(move |_| {
        live.projections
            .get()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.fault.map(|f| (p.name, f.event_id)))
            .collect::<Vec<_>>()
    });
    // Which projection's dead letters to show ("" = all).
    let only = RwSignal::new(String::new());
    let names = Memo::new(move |_| {
        live.projections
            .get()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    });
    let list = Resource::new(
        move || {
            (
                faults.get(),
                retry.version().get(),
                skip.version().get(),
                only.get(),
            )
        },
        |(_, _, _, only)| list_dead_letters((!only.is_empty()).then_some(only), None),
    );
    view! {
        <div class="card" style="margin-top:1rem" data-testid="dead-letters">
            <h2>"Dead letters"</h2>
            <label>"Projection"
                <select name="dead-letter-projection" on:change=move |ev| only.set(event_target_value(&ev))>
                    <option value="">"All"</option>
                    {move || names.get().into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                </select>
            </label>
            <ActionError result=retry.value().into()/>
            <ActionError result=skip.value().into()/>
            <Transition fallback=|| view! { <p class="muted">"Loading dead letters…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(page) if page.dead_letters.is_empty() => view! {
                            <p class="muted">"No projection has halted on an event."</p>
                        }.into_any(),
                        Ok(page) => view! {
                            <ul class="dead-letters">
                                {page.dead_letters.into_iter().map(|d| view! { <DeadLetter d retry skip/> }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn DeadLetter(
    d: DeadLetterView,
    retry: ServerAction<RetryProjection>,
    skip: ServerAction<SkipEvent>,
) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let open = d.resolution.is_none();
    let state = match d.resolution {
        None => "open",
        Some(DeadLetterResolution::Retried) => "retried",
        Some(DeadLetterResolution::Skipped) => "skipped",
    };
    let pending = move || retry.pending().get() || skip.pending().get();
    let (retry_name, skip_name) = (d.projection.clone(), d.projection.clone());
    view! {
        <li class:open=open data-dead-letter=d.id.to_string() data-state=state data-projection=d.projection.clone()>
            <div>
                <span class=format!("badge {}", if open { "faulted" } else { "running" })>{state}</span>
                " " <strong>{d.projection.clone()}</strong>
                " halted on " <strong>{d.event_type.clone()}</strong>
                " at position " {d.position}
                {d.stream_id.clone().map(|s| view! { " of " <a class="mono" href=format!("/audit/{s}")>{s.clone()}</a> })}
            </div>
            <div class="muted">{format!("{} attempts · failed {} · generation {}", d.attempts, time(&d.failed_at), d.generation)}</div>
            <div class="error">{d.error.clone()}</div>
            {(!open).then(|| view! {
                <div class="muted" data-testid="resolution">{format!(
                    "{} by {} at {}{}",
                    state,
                    d.resolved_by.clone().unwrap_or_else(|| "unknown".into()),
                    d.resolved_at.as_ref().map(time).unwrap_or_default(),
                    d.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default(),
                )}</div>
            })}
            <details>
                <summary>"Payload"</summary>
                <pre data-testid="payload">{d.data.as_ref().map(|v| serde_json::to_string_pretty(v).unwrap_or_default()).unwrap_or_else(|| "(not readable)".into())}</pre>
            </details>
            {open.then(|| view! {
                <div class="row">
                    <button disabled=pending on:click=move |_| { retry.dispatch(RetryProjection { name: retry_name.clone() }); }>"Retry"</button>
                    <label>"Reason to skip"<input name="dead-letter-reason" prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))/></label>
                    <button class="danger" disabled=pending on:click=move |_| { skip.dispatch(SkipEvent { name: skip_name.clone(), reason: reason.get_untracked() }); }>"Skip this event"</button>
                </div>
            })}
        </li>
    }
}
