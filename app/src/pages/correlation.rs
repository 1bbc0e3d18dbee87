//! What one user action caused: the commands and events sharing a correlation id, as a tree by
//! causation (a command, the events it appended across streams, the commands those events led
//! to), with who and when. Each event links to its stream's timeline.

use domain::console::{CommandNode, CorrelationTree};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::queries::get_correlation_tree;
use crate::components::error_box::ErrorBox;
use crate::format::{short_id, time};

#[component]
pub fn CorrelationPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<uuid::Uuid>().ok())
    });
    let tree = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => get_correlation_tree(id).await,
                None => Err(crate::error::UiError::not_found("That correlation id")),
            }
        },
    );
    view! {
        <section class="page" aria-labelledby="page-title">
            <h1 id="page-title">"Correlation " <span class="mono">{move || id.get().map(|i| i.to_string()).unwrap_or_default()}</span></h1>
            <p class="lead">"Everything one action caused, by causation: each command, the events it appended, and what those led to."</p>
            <Transition fallback=|| view! { <p class="muted">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    match tree.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(tree) => view! { <Tree tree/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Tree(tree: CorrelationTree) -> impl IntoView {
    view! {
        <div class="card" data-testid="correlation-tree" data-depth=tree.depth.to_string() data-events=tree.event_count.to_string()>
            <p class="muted">{format!("{} events · {} levels deep", tree.event_count, tree.depth)}
                {tree.truncated.then_some(" · only the first 1,000 events are shown")}</p>
            <ul class="tree">
                {tree.commands.into_iter().map(|c| command_view(c, 1)).collect_view()}
            </ul>
        </div>
    }
}

/// One command and, under each of its events, the commands that event caused.
fn command_view(node: CommandNode, level: usize) -> AnyView {
    let who = node
        .user_name
        .clone()
        .or(node.user_id.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    let name = node.command.clone().unwrap_or_else(|| "command".to_owned());
    let label = name.clone();
    view! {
        <li class="command" data-level=level.to_string() data-command=name>
            <div>
                <strong>{label}</strong>
                " " <span class="muted mono" title=node.command_id.to_string()>{short_id(node.command_id)}</span>
                " " <span class="muted">{format!("by {who} · {}", time(&node.at))}</span>
            </div>
            <ul>
                {node.events.into_iter().map(|e| {
                    let ev = e.event;
                    view! {
                        <li class="event" data-event-type=ev.event_type.clone()>
                            <span class="badge">{ev.event_type.clone()}</span>
                            " " <a class="mono" href=format!("/audit/{}", ev.stream_id)>{format!("{} v{}", ev.stream_id, ev.version)}</a>
                            " " <span class="muted">{format!("position {}", ev.position)}</span>
                            {(!e.caused.is_empty()).then(|| view! {
                                <ul>{e.caused.into_iter().map(|c| command_view(c, level + 1)).collect_view()}</ul>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </li>
    }
    .into_any()
}
