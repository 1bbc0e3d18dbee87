//! The event browser (staff): the whole log searched by event type, stream type, stream id
//! (prefix or the short id lists show), user, correlation id and time range, newest or oldest
//! first, keyset-paged; each row links to its stream's timeline and its correlation's tree.
//! Above it, the log's statistics (events per type and stream type, events appended per minute over
//! the last hour), live over the websocket.

use domain::console::{EventStats, NamedCount};
use domain::live::Topic;
use domain::requests::SearchEvents;
use leptos::prelude::*;

use crate::api::queries::{find_events, get_event_stats};
use crate::components::error_box::ErrorBox;
use crate::components::pager::{Pager, Paging};
use crate::components::sparkline::Sparkline;
use crate::format::{short_id, time};
use crate::live::{changed_of, use_live};

/// A `datetime-local` value (`2026-12-02T07:30`, read as UTC) as RFC 3339.
fn rfc3339(local: &str) -> Option<String> {
    let local = local.trim();
    if local.is_empty() {
        return None;
    }
    Some(match local.len() {
        16 => format!("{local}:00Z"),
        _ => format!("{local}Z"),
    })
}

fn nonempty(s: String) -> Option<String> {
    let s = s.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let live = use_live();
    // Keeps the websocket subscribed to the statistics while this page is shown.
    let _ = changed_of([Topic::Stats]);
    let initial_stats = Resource::new(|| (), |_| get_event_stats());
    let fields = [
        "type",
        "stream_type",
        "stream",
        "user",
        "correlation",
        "from",
        "to",
    ]
    .map(|_| RwSignal::new(String::new()));
    let [event_type, stream_type, stream, user, correlation, from, to] = fields;
    let oldest = RwSignal::new(false);
    let follow = RwSignal::new(false);
    let filter = RwSignal::new(SearchEvents::default());
    let paging = Paging::new();
    // Following: the first page newest-first refetches whenever the log moves.
    let head = Memo::new(move |_| {
        if follow.get() {
            live.stats.get().map(|s| s.position).unwrap_or_default()
        } else {
            0
        }
    });
    let page = Resource::new(
        move || (filter.get(), paging.cursor(), head.get()),
        |(mut search, cursor, _)| {
            search.after = cursor.and_then(|c| c.parse().ok());
            find_events(search)
        },
    );
    let apply = move || {
        filter.set(SearchEvents {
            event_type: nonempty(event_type.get_untracked()),
            stream_type: nonempty(stream_type.get_untracked()),
            stream: nonempty(stream.get_untracked()),
            user: nonempty(user.get_untracked()),
            correlation: nonempty(correlation.get_untracked()),
            from: rfc3339(&from.get_untracked()),
            to: rfc3339(&to.get_untracked()),
            order: oldest.get_untracked().then(|| "oldest".to_owned()),
            after: None,
            limit: None,
        });
        paging.reset();
    };
    let input = move |label: &'static str,
                      name: &'static str,
                      value: RwSignal<String>,
                      kind: &'static str,
                      hint: &'static str| {
        view! {
            <label>{label}
                <input name=name type=kind placeholder=hint prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Event log"</h1>
            <p class="lead">"Every event in the log: search it, page through it, open a stream's timeline or what one action caused."</p>
            <Transition fallback=|| view! { <p class="muted">"Counting events…"</p> }>
                {move || Suspend::new(async move {
                    let initial = initial_stats.await.ok();
                    live.stats.get().or(initial).map(|s| view! { <StatsPanel stats=s/> })
                })}
            </Transition>
            <div class="card">
                <h2>"Search"</h2>
                <form class="row wrap" aria-label="Search events" on:submit=move |ev| { ev.prevent_default(); apply(); }>
                    {input("Event type", "type", event_type, "text", "OrderPlaced")}
                    <label>"Stream type"
                        <select name="stream_type" on:change=move |ev| stream_type.set(event_target_value(&ev))>
                            <option value="">"All"</option>
                            <option value="order">"Orders"</option>
                            <option value="customer">"Customers"</option>
                            <option value="product">"Products"</option>
                            <option value="account">"Accounts"</option>
                        </select>
                    </label>
                    {input("Stream", "stream", stream, "text", "order-0193… or a short id")}
                    {input("User", "user", user, "text", "alice")}
                    {input("Correlation id", "correlation", correlation, "text", "uuid or short id")}
                    {input("From (UTC)", "from", from, "datetime-local", "")}
                    {input("To (UTC)", "to", to, "datetime-local", "")}
                    <label class="inline"><input type="checkbox" name="oldest" prop:checked=oldest on:change=move |ev| oldest.set(event_target_checked(&ev))/>"Oldest first"</label>
                    <button type="submit">"Search"</button>
                    <label class="inline"><input type="checkbox" name="follow" prop:checked=follow on:change=move |ev| follow.set(event_target_checked(&ev))/>"Follow new events"</label>
                </form>
                <Transition fallback=|| view! { <p class="muted">"Searching…"</p> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(p) if p.events.is_empty() => view! { <p class="muted" data-testid="no-events">"No event matches."</p> }.into_any(),
                            Ok(p) => {
                                let next = p.next_after.map(|n| n.to_string());
                                view! {
                                    <table data-testid="events-table">
                                        <thead><tr><th class="num">"Position"</th><th>"Time"</th><th>"Stream"</th><th class="num">"Version"</th><th>"Event"</th><th>"User"</th><th>"Correlation"</th></tr></thead>
                                        <tbody>
                                            {p.events.into_iter().map(|e| view! {
                                                <tr data-position=e.position.to_string() data-event-type=e.event_type.clone()>
                                                    <td class="num">{e.position}</td>
                                                    <td class="muted">{time(&e.recorded_at)}</td>
                                                    <td><a class="mono" href=format!("/audit/{}", e.stream_id)>{e.stream_id.clone()}</a></td>
                                                    <td class="num">{e.version}</td>
                                                    <td>{e.event_type.clone()}</td>
                                                    <td>{e.user_name.clone().or(e.user_id.clone()).unwrap_or_default()}</td>
                                                    <td>{e.correlation_id.map(|c| view! { <a class="mono" href=format!("/audit/correlation/{c}") title=c.to_string()>{short_id(c)}</a> })}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    <Pager paging next/>
                                }.into_any()
                            }
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}

/// Counts per event type and stream type, and events appended per minute over the last hour.
#[component]
fn StatsPanel(stats: EventStats) -> impl IntoView {
    let per_minute: Vec<i64> = stats.per_minute.iter().map(|m| m.count).collect();
    let last_hour: i64 = per_minute.iter().sum();
    let table = |title: &'static str, id: &'static str, rows: Vec<NamedCount>| {
        view! {
            <div>
                <h3>{title}</h3>
                <table data-testid=id>
                    <tbody>
                        {rows.into_iter().map(|c| {
                            let label = c.name.clone();
                            view! { <tr data-name=c.name><td>{label}</td><td class="num">{c.count}</td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
    };
    view! {
        <div class="card" data-testid="event-stats" data-total=stats.total.to_string()>
            <h2>"Statistics"</h2>
            <p class="muted">{format!("{} events in the log (up to position {}) · {} appended in the last hour", stats.total, stats.position, last_hour)}</p>
            <Sparkline values=per_minute label="Events appended per minute over the last hour"/>
            <div class="grid" style="grid-template-columns: repeat(auto-fit, minmax(240px, 1fr))">
                {table("By event type", "stats-by-type", stats.by_event_type)}
                {table("By stream type", "stats-by-stream-type", stats.by_stream_type)}
            </div>
        </div>
    }
}
