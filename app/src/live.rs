//! Live updates in the browser: one websocket per page load. A page says which [`Topic`]s it
//! shows with [`changed_of`]; the socket is subscribed to the topics of the pages on screen (plus
//! the status topics behind [`LiveContext::projections`] and [`LiveContext::relay`]), and a
//! page's trigger fires on a change one of its topics covers ([`Topic::covers`], the same rule
//! the server filters with), on a resync, and when the server confirms it subscribed one of them:
//! what changed before the subscription is in that refetch, what changes after it arrives as a
//! change, so nothing falls between the page's first fetch and its subscription (after hydration
//! and after client-side navigation alike). On the server (SSR) nothing connects and no page
//! registers.

use std::collections::HashSet;

use domain::console::EventStats;
use domain::live::{ServerMessage, Topic};
use domain::views::{ProjectionStatus, RelayStatus};
use leptos::prelude::*;

/// Subscribed on every connection: the status signals of [`LiveContext`].
const STATUS_TOPICS: [Topic; 2] = [Topic::Projections, Topic::Relay];

/// What the websocket has told this page so far.
#[derive(Clone, Copy)]
pub struct LiveContext {
    /// Highest log position seen.
    pub position: ReadSignal<i64>,
    pub connected: ReadSignal<bool>,
    pub projections: ReadSignal<Option<Vec<ProjectionStatus>>>,
    pub relay: ReadSignal<Option<RelayStatus>>,
    /// The log's statistics, pushed while a page follows [`Topic::Stats`].
    pub stats: ReadSignal<Option<EventStats>>,
    watchers: StoredValue<Watchers>,
}

/// The pages' [`changed_of`] triggers and the topics each one follows.
#[derive(Default)]
struct Watchers {
    next_id: u64,
    list: Vec<Watcher>,
}

struct Watcher {
    id: u64,
    topics: Vec<Topic>,
    bump: WriteSignal<u64>,
}

impl Watchers {
    /// Every topic the connection must be subscribed to.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn wanted(&self) -> HashSet<Topic> {
        STATUS_TOPICS
            .iter()
            .chain(self.list.iter().flat_map(|w| w.topics.iter()))
            .cloned()
            .collect()
    }

    /// The triggers of the watchers for which `hit` holds.
    fn triggers(&self, hit: impl Fn(&[Topic]) -> bool) -> Vec<WriteSignal<u64>> {
        self.list
            .iter()
            .filter(|w| hit(&w.topics))
            .map(|w| w.bump)
            .collect()
    }
}

impl LiveContext {
    /// Registers a trigger for `topics`; returns its id for [`unwatch`](Self::unwatch).
    fn watch(self, topics: Vec<Topic>, bump: WriteSignal<u64>) -> u64 {
        let id = self
            .watchers
            .try_update_value(|w| {
                let id = w.next_id;
                w.next_id += 1;
                w.list.push(Watcher { id, topics, bump });
                id
            })
            .unwrap_or_default();
        self.resubscribe();
        id
    }

    fn unwatch(self, id: u64) {
        self.watchers
            .try_update_value(|w| w.list.retain(|watcher| watcher.id != id));
        self.resubscribe();
    }

    /// Brings the server's subscription in line with the watchers (soon, once for many calls).
    fn resubscribe(self) {
        #[cfg(feature = "hydrate")]
        socket::schedule_sync(self);
    }

    /// Fires the triggers for which `hit` holds.
    fn bump(self, hit: impl Fn(&[Topic]) -> bool) {
        let triggers = self
            .watchers
            .try_with_value(|w| w.triggers(hit))
            .unwrap_or_default();
        for trigger in triggers {
            trigger.update(|n| *n += 1);
        }
    }
}

#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct LiveWriters {
    ctx: LiveContext,
    position: WriteSignal<i64>,
    connected: WriteSignal<bool>,
    projections: WriteSignal<Option<Vec<ProjectionStatus>>>,
    relay: WriteSignal<Option<RelayStatus>>,
    stats: WriteSignal<Option<EventStats>>,
}

/// Creates the context and, in the browser, opens the websocket.
pub fn provide_live() -> LiveContext {
    let (position, set_position) = signal(0i64);
    let (connected, set_connected) = signal(false);
    let (projections, set_projections) = signal(None);
    let (relay, set_relay) = signal(None);
    let (stats, set_stats) = signal(None);
    let ctx = LiveContext {
        position,
        connected,
        projections,
        relay,
        stats,
        watchers: StoredValue::new(Watchers::default()),
    };
    let writers = LiveWriters {
        ctx,
        position: set_position,
        connected: set_connected,
        projections: set_projections,
        relay: set_relay,
        stats: set_stats,
    };
    provide_context(ctx);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        socket::connect(writers);
        #[cfg(not(feature = "hydrate"))]
        let _ = writers;
    });
    ctx
}

/// The page's live context.
pub fn use_live() -> LiveContext {
    expect_context::<LiveContext>()
}

/// A trigger for refetching what a page shows from the read models behind `topics`: it changes
/// whenever a change one of them covers arrives, on resync, and when the server confirms it
/// subscribed one of them. Subscribes the websocket to `topics` while the calling component
/// lives.
pub fn changed_of<const N: usize>(topics: [Topic; N]) -> ReadSignal<u64> {
    changed_of_with(move || topics.to_vec())
}

/// [`changed_of`] for topics that depend on reactive values (e.g. the order id in the URL): the
/// subscription follows them.
pub fn changed_of_with(topics: impl Fn() -> Vec<Topic> + 'static) -> ReadSignal<u64> {
    let live = use_live();
    let (count, set_count) = signal(0u64);
    // Effects run in the browser only, after hydration: SSR registers nothing.
    Effect::new(move |_| {
        let id = live.watch(topics(), set_count);
        on_cleanup(move || live.unwatch(id));
    });
    count
}

/// Applies a server message.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn handle(writers: LiveWriters, message: ServerMessage) {
    let position = match &message {
        ServerMessage::Subscribed { position, .. }
        | ServerMessage::Changed { position, .. }
        | ServerMessage::Projections { position, .. }
        | ServerMessage::Relay { position, .. }
        | ServerMessage::Stats { position, .. }
        | ServerMessage::Resync { position, .. }
        | ServerMessage::Heartbeat { position }
        | ServerMessage::Pong { position }
        | ServerMessage::Error { position, .. } => *position,
    };
    writers.position.update(|p| *p = (*p).max(position));
    let ctx = writers.ctx;
    match message {
        ServerMessage::Changed { change, .. } => {
            ctx.bump(|topics| topics.iter().any(|t| t.covers(&change)));
        }
        ServerMessage::Resync { .. } => ctx.bump(|_| true),
        // Changes from now on reach the page; what it fetched may be older.
        ServerMessage::Subscribed { topics, .. } => {
            ctx.bump(|mine| mine.iter().any(|t| topics.contains(t)));
        }
        ServerMessage::Projections { projections, .. } => {
            writers.projections.set(Some(projections))
        }
        ServerMessage::Relay { relay, .. } => writers.relay.set(Some(relay)),
        ServerMessage::Stats { stats, .. } => writers.stats.set(Some(stats)),
        _ => {}
    }
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::cell::{Cell, RefCell};
    use std::collections::HashSet;
    use std::time::Duration;

    use domain::live::{ClientMessage, Resume, ServerMessage, Topic};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    use super::{LiveContext, LiveWriters, Watchers, handle};

    /// The open socket and the topics the server has subscribed it to.
    struct Open {
        socket: web_sys::WebSocket,
        subscribed: HashSet<Topic>,
    }

    thread_local! {
        static OPEN: RefCell<Option<Open>> = const { RefCell::new(None) };
        /// Where this browser is in the server's stream of changes: the cursor of the last
        /// `subscribed`, `changed` or `resync` it got. A reconnect sends it, and the server
        /// answers exactly what was missed meanwhile, or a resync.
        static CURSOR: RefCell<Option<Resume>> = const { RefCell::new(None) };
        static SYNC_QUEUED: Cell<bool> = const { Cell::new(false) };
    }

    fn send(socket: &web_sys::WebSocket, message: &ClientMessage) {
        if let Ok(text) = serde_json::to_string(message) {
            let _ = socket.send_with_str(&text);
        }
    }

    /// Runs [`sync`] once after the current task (pages register and unregister in bursts).
    pub(super) fn schedule_sync(ctx: LiveContext) {
        if !SYNC_QUEUED.replace(true) {
            queue_microtask(move || {
                SYNC_QUEUED.set(false);
                sync(ctx);
            });
        }
    }

    /// Unsubscribes topics no page follows any more and subscribes new ones. Without an open
    /// socket there is nothing to do: opening subscribes to everything wanted.
    fn sync(ctx: LiveContext) {
        let Some(wanted) = ctx.watchers.try_with_value(Watchers::wanted) else {
            return;
        };
        OPEN.with_borrow_mut(|open| {
            let Some(open) = open else { return };
            let gone: Vec<Topic> = open.subscribed.difference(&wanted).cloned().collect();
            let new: Vec<Topic> = wanted.difference(&open.subscribed).cloned().collect();
            if !gone.is_empty() {
                send(&open.socket, &ClientMessage::Unsubscribe { topics: gone });
            }
            if !new.is_empty() {
                send(
                    &open.socket,
                    &ClientMessage::Subscribe {
                        topics: new,
                        since: None,
                        resume: None,
                    },
                );
            }
            open.subscribed = wanted;
        });
    }

    /// Moves the cursor along with what the server sent.
    fn advance(message: &ServerMessage) {
        CURSOR.with_borrow_mut(|cursor| match message {
            ServerMessage::Subscribed { resume, .. } => *cursor = Some(resume.clone()),
            ServerMessage::Changed { seq, .. } | ServerMessage::Resync { seq, .. } => {
                if let Some(cursor) = cursor {
                    cursor.seq = cursor.seq.max(*seq);
                }
            }
            _ => {}
        });
    }

    /// Opens the websocket; a reconnect resumes from the cursor (the server sends what was
    /// missed, or a resync).
    pub(super) fn connect(writers: LiveWriters) {
        let location = window().location();
        let scheme = if location.protocol().ok().as_deref() == Some("https:") {
            "wss"
        } else {
            "ws"
        };
        let host = location.host().unwrap_or_default();
        let Ok(socket) = web_sys::WebSocket::new(&format!("{scheme}://{host}/ws")) else {
            set_timeout(move || connect(writers), Duration::from_secs(2));
            return;
        };
        let open_socket = socket.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            writers.connected.set(true);
            let wanted = writers
                .ctx
                .watchers
                .try_with_value(Watchers::wanted)
                .unwrap_or_default();
            send(
                &open_socket,
                &ClientMessage::Subscribe {
                    topics: wanted.iter().cloned().collect(),
                    since: None,
                    resume: CURSOR.with_borrow(Clone::clone),
                },
            );
            OPEN.set(Some(Open {
                socket: open_socket.clone(),
                subscribed: wanted,
            }));
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        on_open.forget();

        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                if let Some(text) = e.data().as_string()
                    && let Ok(message) = serde_json::from_str::<ServerMessage>(&text)
                {
                    advance(&message);
                    handle(writers, message);
                }
            });
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();

        let on_close = Closure::<dyn FnMut()>::new(move || {
            OPEN.set(None);
            writers.connected.set(false);
            set_timeout(move || connect(writers), Duration::from_secs(1));
        });
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        on_close.forget();
    }
}
