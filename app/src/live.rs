//! Live updates in the browser: one websocket per page load, subscribed to every topic. Pages
//! read `LiveContext` signals and refetch their resources when something they show changed.
//! On the server (SSR) nothing connects; the signals keep their initial values.

use domain::live::{Change, ServerMessage};
use domain::views::{ProjectionStatus, RelayStatus};
use leptos::prelude::*;

/// What the websocket has told this page so far.
#[derive(Clone, Copy)]
pub struct LiveContext {
    /// The latest change per arrival (pages filter by projection and stream).
    pub last_change: ReadSignal<Option<Change>>,
    /// Bumped on every change or resync: a cheap "something changed" trigger.
    pub tick: ReadSignal<u64>,
    /// Highest log position seen.
    pub position: ReadSignal<i64>,
    pub connected: ReadSignal<bool>,
    pub projections: ReadSignal<Option<Vec<ProjectionStatus>>>,
    pub relay: ReadSignal<Option<RelayStatus>>,
}

#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct LiveWriters {
    seen: ReadSignal<i64>,
    last_change: WriteSignal<Option<Change>>,
    tick: WriteSignal<u64>,
    position: WriteSignal<i64>,
    connected: WriteSignal<bool>,
    projections: WriteSignal<Option<Vec<ProjectionStatus>>>,
    relay: WriteSignal<Option<RelayStatus>>,
}

/// Creates the context and, in the browser, opens the websocket.
pub fn provide_live() -> LiveContext {
    let (last_change, set_last_change) = signal(None);
    let (tick, set_tick) = signal(0u64);
    let (position, set_position) = signal(0i64);
    let (connected, set_connected) = signal(false);
    let (projections, set_projections) = signal(None);
    let (relay, set_relay) = signal(None);
    let ctx = LiveContext {
        last_change,
        tick,
        position,
        connected,
        projections,
        relay,
    };
    let writers = LiveWriters {
        seen: position,
        last_change: set_last_change,
        tick: set_tick,
        position: set_position,
        connected: set_connected,
        projections: set_projections,
        relay: set_relay,
    };
    provide_context(ctx);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        connect(writers, None);
        #[cfg(not(feature = "hydrate"))]
        let _ = writers;
    });
    ctx
}

/// The page's live context.
pub fn use_live() -> LiveContext {
    expect_context::<LiveContext>()
}

/// A trigger that changes whenever a batch of one of `projections` was applied (or on resync).
pub fn changed_of(projections: &'static [&'static str]) -> Memo<u64> {
    let live = use_live();
    let (count, set_count) = signal(0u64);
    Effect::new(move |_| {
        let _ = live.tick.get();
        let relevant = live.last_change.with(|c| {
            c.as_ref()
                .is_none_or(|c| projections.contains(&c.projection.as_str()))
        });
        if relevant {
            set_count.update(|n| *n += 1);
        }
    });
    Memo::new(move |_| count.get())
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn handle(writers: LiveWriters, message: ServerMessage) {
    let position = match &message {
        ServerMessage::Subscribed { position, .. }
        | ServerMessage::Changed { position, .. }
        | ServerMessage::Projections { position, .. }
        | ServerMessage::Relay { position, .. }
        | ServerMessage::Resync { position }
        | ServerMessage::Heartbeat { position }
        | ServerMessage::Pong { position }
        | ServerMessage::Error { position, .. } => *position,
    };
    writers.position.update(|p| *p = (*p).max(position));
    match message {
        ServerMessage::Changed { change, .. } => {
            writers.last_change.set(Some(change));
            writers.tick.update(|t| *t += 1);
        }
        ServerMessage::Resync { .. } => {
            writers.last_change.set(None);
            writers.tick.update(|t| *t += 1);
        }
        ServerMessage::Projections { projections, .. } => {
            writers.projections.set(Some(projections))
        }
        ServerMessage::Relay { relay, .. } => writers.relay.set(Some(relay)),
        _ => {}
    }
}

#[cfg(feature = "hydrate")]
fn connect(writers: LiveWriters, since: Option<i64>) {
    use domain::live::{ClientMessage, Topic};
    use std::time::Duration;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let location = window().location();
    let scheme = if location.protocol().ok().as_deref() == Some("https:") {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().unwrap_or_default();
    let Ok(socket) = web_sys::WebSocket::new(&format!("{scheme}://{host}/ws")) else {
        set_timeout(move || connect(writers, since), Duration::from_secs(2));
        return;
    };
    let subscribe = ClientMessage::Subscribe {
        topics: vec![
            Topic::Dashboard,
            Topic::Orders,
            Topic::Projections,
            Topic::Relay,
        ],
        since,
    };
    let open_socket = socket.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || {
        writers.connected.set(true);
        if let Ok(text) = serde_json::to_string(&subscribe) {
            let _ = open_socket.send_with_str(&text);
        }
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();

    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(text) = e.data().as_string()
                && let Ok(message) = serde_json::from_str::<ServerMessage>(&text)
            {
                handle(writers, message);
            }
        });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let on_close = Closure::<dyn FnMut()>::new(move || {
        writers.connected.set(false);
        // Resume from the last position seen: the server sends what was missed, or a resync.
        let since = Some(writers.seen.get_untracked());
        set_timeout(move || connect(writers, since), Duration::from_secs(1));
    });
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();
}
