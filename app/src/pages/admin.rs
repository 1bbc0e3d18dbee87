//! The admin panel (login required): every projection's state, checkpoint, head, lag and
//! events/s, live; rebuild one or all with progress; faulted projections with retry and skip;
//! the dead-letter history with payloads; the broker relay's status and lag. Lag is shown in
//! events and in seconds (the oldest unapplied event's age) with the last hour's trend, and a
//! projection behind without progress shows as stalled. The event log's hash chain (head, verify,
//! anchor) is in `log_integrity.rs`.

use domain::views::{ProjectionState, ProjectionStatus, RelayState};
use leptos::prelude::*;

use crate::api::admin::{
    AdminLogin, AdminLogout, RebuildProjection, RetryProjection, RetryRelay, SkipEvent,
    SkipRelayEvent, admin_session,
};
use crate::api::queries::{get_relay, projection_statuses};
use crate::components::error_box::{ActionError, ErrorBox};
use crate::components::sparkline::Sparkline;
use crate::components::status_badge::StatusBadge;
use crate::live::use_live;
use crate::pages::dead_letters::DeadLettersPanel;
use crate::pages::log_integrity::LogIntegrityPanel;

fn state_name(state: ProjectionState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let login = ServerAction::<AdminLogin>::new();
    let logout = ServerAction::<AdminLogout>::new();
    let session = Resource::new(
        move || (login.version().get(), logout.version().get()),
        |_| admin_session(),
    );
    let token = RwSignal::new(String::new());
    // A new session: load the page again, so the websocket reconnects as the signed-in admin
    // (it is authorized when it opens) and every part renders for the new user.
    Effect::new(move |_| {
        if matches!(login.value().get(), Some(Ok(())))
            || matches!(logout.value().get(), Some(Ok(())))
        {
            crate::viewer::reload_to("/admin");
        }
    });
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Admin"</h1>
            <Transition fallback=|| view! { <p class="muted">"Checking your session…"</p> }>
                {move || Suspend::new(async move {
                    match session.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(false) => view! {
                            <div class="card">
                                <h2>"Log in"</h2>
                                <p class="muted">"The admin token is in the server's data directory (file admin-token) unless one was configured."</p>
                                <form class="row" aria-label="Admin login" on:submit=move |ev| {
                                    ev.prevent_default();
                                    login.dispatch(AdminLogin { token: token.get_untracked() });
                                }>
                                    <label>"Admin token"<input name="token" type="password" autocomplete="current-password" prop:value=token on:input=move |ev| token.set(event_target_value(&ev))/></label>
                                    <button type="submit" disabled=move || login.pending().get()>"Log in"</button>
                                </form>
                                <ActionError result=login.value().into()/>
                            </div>
                        }.into_any(),
                        Ok(true) => view! {
                            <div class="actions"><button class="secondary" on:click=move |_| { logout.dispatch(AdminLogout {}); }>"Log out"</button></div>
                            <ProjectionsPanel/>
                            <DeadLettersPanel/>
                            <RelayPanel/>
                            <LogIntegrityPanel/>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ProjectionsPanel() -> impl IntoView {
    let live = use_live();
    let rebuild = ServerAction::<RebuildProjection>::new();
    let retry = ServerAction::<RetryProjection>::new();
    let skip = ServerAction::<SkipEvent>::new();
    let initial = Resource::new(|| (), |_| projection_statuses());
    let skip_reason = RwSignal::new(String::new());
    let pending = move || rebuild.pending().get() || retry.pending().get() || skip.pending().get();
    view! {
        <div class="card">
            <h2>"Projections"</h2>
            <ActionError result=rebuild.value().into()/>
            <ActionError result=retry.value().into()/>
            <ActionError result=skip.value().into()/>
            <div class="actions">
                <button disabled=pending on:click=move |_| { rebuild.dispatch(RebuildProjection { name: None }); }>"Rebuild all"</button>
            </div>
            <table data-testid="projections-table">
                <thead><tr>
                    <th>"Name"</th><th>"State"</th><th class="num">"Checkpoint"</th><th class="num">"Head"</th>
                    <th class="num">"Lag"</th><th class="num">"Lag (s)"</th><th>"Last hour"</th><th class="num">"Events/s"</th><th>"Rebuild"</th><th>"Instance"</th><th></th>
                </tr></thead>
                <tbody>
                    // Inside a Transition: the server renders the awaited rows (the browser
                    // hydrates the same table), then the websocket's pushes replace them; the
                    // table never waits for a push to show anything.
                    <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                    let initial = initial.await.ok();
                    let rows: Vec<ProjectionStatus> =
                        live.projections.get().or(initial).unwrap_or_default();
                    rows.into_iter().map(|p| {
                        let name = p.name.clone();
                        let rebuild_name = name.clone();
                        let progress = p.rebuild.clone();
                        let trend: Vec<i64> = p.lag_trend.iter().map(|t| t.events).collect();
                        let trend_label = format!("Lag of {name} per minute over the last hour");
                        view! {
                            <tr data-projection=name.clone()>
                                <td>{name.clone()}</td>
                                <td><StatusBadge status=state_name(p.state)/></td>
                                <td class="num">{p.checkpoint}</td>
                                <td class="num">{p.head}</td>
                                <td class="num">{p.lag}</td>
                                <td class="num" data-testid="lag-seconds">{format!("{:.1}", p.lag_seconds)}</td>
                                <td class="trend"><Sparkline values=trend label=trend_label/></td>
                                <td class="num">{format!("{:.0}", p.events_per_sec)}</td>
                                <td style="min-width:10rem">{progress.map(|r| {
                                    let pct = if r.total > 0 { (r.processed as f64 * 100.0 / r.total as f64).min(100.0) } else { 100.0 };
                                    view! {
                                        <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{pct:.0}")>
                                            <div style=format!("width:{pct:.1}%")></div>
                                        </div>
                                        <span class="muted">{format!("{} / {} · {}", r.processed, r.total, r.eta_secs.map(|s| format!("{s:.0}s left")).unwrap_or_else(|| "estimating".into()))}</span>
                                    }
                                })}</td>
                                <td class="muted">{p.instance.clone()}</td>
                                <td><button class="secondary" disabled=pending on:click=move |_| { rebuild.dispatch(RebuildProjection { name: Some(rebuild_name.clone()) }); }>"Rebuild"</button></td>
                            </tr>
                            {p.fault.clone().map(|f| {
                                let retry_name = name.clone();
                                let skip_name = name.clone();
                                view! {
                                    <tr class="fault"><td colspan="11">
                                        <div class="error" role="alert">
                                            <strong>"Faulted"</strong>" on event " <span class="mono">{f.event_id.to_string()}</span>
                                            " (" {f.event_type.clone()} ", position " {f.position} ", " {f.attempts} " attempts): " {f.error.clone()}
                                        </div>
                                        <div class="row">
                                            <button disabled=pending on:click=move |_| { retry.dispatch(RetryProjection { name: retry_name.clone() }); }>"Retry"</button>
                                            <label>"Reason to skip"<input name="skip-reason" prop:value=skip_reason on:input=move |ev| skip_reason.set(event_target_value(&ev))/></label>
                                            <button class="danger" disabled=pending on:click=move |_| { skip.dispatch(SkipEvent { name: skip_name.clone(), reason: skip_reason.get_untracked() }); }>"Skip this event"</button>
                                        </div>
                                    </td></tr>
                                }
                            })}
                        }
                    }).collect_view()
                    })}
                    </Transition>
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn RelayPanel() -> impl IntoView {
    let live = use_live();
    let initial = Resource::new(|| (), |_| get_relay());
    let retry = ServerAction::<RetryRelay>::new();
    let skip = ServerAction::<SkipRelayEvent>::new();
    let reason = RwSignal::new(String::new());
    view! {
        <div class="card" style="margin-top:1rem" data-testid="relay">
            <h2>"Broker relay"</h2>
            <Transition fallback=|| ()>
            {move || Suspend::new(async move {
            let initial = initial.await.ok();
            live.relay.get().or(initial).map(|r| {
                let state = serde_json::to_value(r.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                view! {
                    <p><StatusBadge status=state/> " " {r.detail.clone()}</p>
                    <p class="muted" data-testid="relay-figures">{if r.state == RelayState::Disabled {
                        format!("log head {} · nothing is published without a broker", r.head)
                    } else {
                        format!("checkpoint {} · head {} · lag {} ({:.1} s) · published {}", r.checkpoint, r.head, r.lag, r.lag_seconds, r.published_total)
                    }}</p>
                    {(r.state != RelayState::Disabled).then(|| {
                        let trend: Vec<i64> = r.lag_trend.iter().map(|t| t.events).collect();
                        view! { <Sparkline values=trend label="Relay lag per minute over the last hour"/> }
                    })}
                    {r.last_error.clone().map(|e| view! { <p class="error">"Last error: " {e}</p> })}
                    {r.fault.clone().map(|f| view! {
                        <div class="error" role="alert" data-testid="relay-fault">
                            <p>{format!("Stopped at position {} ({} v{} of {}): {}", f.position, f.event_type, f.version, f.stream_id, f.error)}</p>
                            <div class="row">
                                <button on:click=move |_| { retry.dispatch(RetryRelay {}); }>"Retry"</button>
                                <label>"Reason"<input name="relay-skip-reason" prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev))/></label>
                                <button class="secondary" on:click=move |_| { skip.dispatch(SkipRelayEvent { reason: reason.get_untracked() }); }>"Skip event"</button>
                            </div>
                        </div>
                    })}
                }
            })
            })}
            </Transition>
            <ActionError result=retry.value().into()/>
            <ActionError result=skip.value().into()/>
        </div>
    }
}
