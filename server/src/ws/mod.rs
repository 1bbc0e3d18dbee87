//! `GET /ws`: live updates over a websocket for the browser app and any other client.
//!
//! The client sends `ClientMessage::Subscribe {topics, resume}`; the server answers `Subscribed`
//! (with the connection's resume cursor), then (with `resume`, the cursor of the last message the
//! client got on an earlier connection) exactly what the client missed or a `Resync`, then
//! `Changed` messages (each with its cursor number) for its
//! topics, periodic `Projections` / `Relay` status for those topics, and `Heartbeat`s. Every
//! server message carries the log position. A client whose outgoing queue fills up is
//! disconnected (close code 4008) rather than slowing anyone else down.

pub mod limits;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use domain::live::{Change, ClientMessage, Resume, ServerMessage, Topic};
use eventstore::EventStore as _;
use futures::{SinkExt as _, StreamExt as _};
use orders::application::live::{LiveAccess, Visible};
use orders::hub::{HubMessage, LiveChange};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;

use crate::api::error::ApiError;
use crate::security::origin::origin_allowed;
use crate::state::AppState;

/// Close code sent to a client that cannot keep up.
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// The upgrade handler: checks the Origin (browsers), caps websockets per client IP, limits
/// message sizes. A request that is not a valid upgrade gets the JSON error shape.
pub async fn handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    session: Option<Extension<tower_sessions::Session>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::new(
                rejection.status(),
                "websocket_upgrade_required",
                "This endpoint only accepts a websocket upgrade (GET with `Connection: upgrade`, `Upgrade: websocket`).",
            )
            .with_details(serde_json::json!({ "reason": rejection.body_text() }))
            .into_response();
        }
    };
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| origin_allowed(&state.settings.allowed_origins, &headers, o));
        if !allowed {
            tracing::warn!(origin = ?origin, "websocket from a foreign origin refused");
            return ApiError::forbidden(
                "origin_not_allowed",
                "This origin may not open a websocket.",
            )
            .into_response();
        }
    }
    // Who opens it decides what it may receive (the application layer's live access policy).
    let session = session.map(|Extension(s)| s);
    let principal = match state.app.authenticate(&headers, session.as_ref()).await {
        Ok(principal) => principal,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let access = LiveAccess::new(principal);
    let slot = match connect {
        Some(Extension(ConnectInfo(peer))) => {
            let ip = crate::security::rate_limit::client_ip(
                peer.ip(),
                &headers,
                &state.settings.trusted_proxies,
            );
            match state.ws_connections.try_acquire(ip) {
                Some(slot) => Some(slot),
                None => {
                    tracing::warn!(client = %ip, "websocket refused: too many from this client");
                    return ApiError::new(
                        axum::http::StatusCode::TOO_MANY_REQUESTS,
                        "too_many_websockets",
                        "Too many open websockets from this client; close some and retry.",
                    )
                    .into_response();
                }
            }
        }
        None => None,
    };
    let max = state.settings.ws_max_message_bytes;
    let span = tracing::info_span!("ws", connection = %uuid::Uuid::now_v7());
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            async move {
                connection(state, socket, access).await;
                drop(slot);
            }
            .instrument(span)
        })
}

fn head(state: &AppState) -> i64 {
    *state.store.head_watch().borrow()
}

async fn connection(state: AppState, socket: WebSocket, access: LiveAccess) {
    state.metrics.ws_connected();
    tracing::debug!("websocket connected");
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Outgoing>(state.settings.ws_queue.max(1));
    let (kill, mut killed) = oneshot::channel::<()>();

    // Writer: drains the queue into the socket (everything queued, then one flush); on `kill`
    // closes with CLOSE_TOO_SLOW.
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                _ = &mut killed => {
                    let frame = CloseFrame { code: CLOSE_TOO_SLOW, reason: Utf8Bytes::from_static("too slow: outgoing queue full") };
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(Some(frame)))).await;
                    break;
                }
                message = out_rx.recv() => {
                    let Some(message) = message else {
                        let _ = sink.send(Message::Close(None)).await;
                        break;
                    };
                    let mut next = Some(message);
                    let mut failed = false;
                    while let Some(message) = next.take() {
                        if let Some(text) = message.into_text()
                            && sink.feed(Message::Text(text)).await.is_err()
                        {
                            failed = true;
                            break;
                        }
                        next = out_rx.try_recv().ok();
                    }
                    if failed || sink.flush().await.is_err() {
                        break;
                    }
                }
            }
        }
    });

    let mut changes = state.live.subscribe();
    let mut session = Session {
        topics: HashSet::new(),
        last_stream_position: 0,
        cursor: changes.start().clone(),
        access,
    };
    let mut heartbeat = tokio::time::interval(state.settings.ws_heartbeat);
    heartbeat.reset();
    let mut status_tick = tokio::time::interval(state.settings.ws_status_interval);
    let mut kill = Some(kill);
    let mut slow = false;
    let mut stopping = state.stopping.clone();
    let mut budget = limits::MessageBudget::new(
        state.settings.ws_messages_per_sec,
        state.settings.ws_messages_burst,
    );

    // `push` returns false when the connection must end.
    let mut push = |message: Outgoing| -> bool {
        match out.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if let Some(kill) = kill.take() {
                    let _ = kill.send(());
                }
                slow = true;
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    };

    loop {
        // The select only says what happened; the reaction (which may await the access
        // policy) runs after it, with no branch future alive.
        let event = tokio::select! {
            incoming = stream.next() => Event::Incoming(incoming),
            message = changes.recv() => Event::Hub(message),
            _ = heartbeat.tick() => Event::Heartbeat,
            _ = status_tick.tick() => Event::Status,
            _ = stopping.wait_for(|s| *s) => Event::Stop,
        };
        let keep_going = match event {
            Event::Incoming(incoming) => match incoming {
                Some(Ok(Message::Text(_) | Message::Binary(_))) if !budget.take() => push(
                    ServerMessage::Error {
                        message: limits::OVER_BUDGET.into(),
                        position: head(&state),
                    }
                    .into(),
                ),
                Some(Ok(Message::Text(text))) => {
                    handle_client(&state, &mut session, text.as_str(), &mut |m| push(m.into()))
                        .await
                }
                Some(Ok(Message::Binary(_))) => push(
                    ServerMessage::Error {
                        message: "send JSON text messages".into(),
                        position: head(&state),
                    }
                    .into(),
                ),
                Some(Ok(Message::Close(_))) | None => false,
                Some(Ok(_)) => true, // ping/pong: handled by axum
                Some(Err(error)) => {
                    tracing::debug!(%error, "websocket receive failed");
                    false
                }
            },
            Event::Hub(message) => match message {
                Some(HubMessage::Change(change)) => {
                    session.cursor.seq = change.seq();
                    let seq = change.seq();
                    match state.app.visible_change(&mut session.access, &change).await {
                        Visible::All if session.matches(&change) => push(Outgoing::Shared(change)),
                        Visible::Narrowed(narrow) if session.matches(&narrow) => push(
                            ServerMessage::Changed {
                                position: narrow.position,
                                change: narrow,
                                seq,
                            }
                            .into(),
                        ),
                        _ => true,
                    }
                }
                Some(HubMessage::Resync { position, seq }) => {
                    session.cursor.seq = seq;
                    push(
                        ServerMessage::Resync {
                            position: position.max(head(&state)),
                            seq,
                        }
                        .into(),
                    )
                }
                // The hub stopped (server shutting down).
                None => false,
            },
            Event::Heartbeat => push(
                ServerMessage::Heartbeat {
                    position: head(&state),
                }
                .into(),
            ),
            Event::Status => push_status(&state, &session, &mut |m| push(m.into())),
            Event::Stop => false,
        };
        if !keep_going {
            break;
        }
    }
    if slow {
        state.metrics.ws_slow_disconnect();
        tracing::info!("websocket client too slow, disconnected");
    }
    drop(out);
    let _ = writer.await;
    state.metrics.ws_disconnected();
    tracing::debug!("websocket closed");
}

/// What woke the connection loop.
enum Event {
    Incoming(Option<Result<Message, axum::Error>>),
    Hub(Option<HubMessage>),
    Heartbeat,
    Status,
    Stop,
}

/// What the writer sends: a message to serialise, or a change the hub serialised once for
/// every client.
enum Outgoing {
    Message(Box<ServerMessage>),
    Shared(Arc<LiveChange>),
}

impl From<ServerMessage> for Outgoing {
    fn from(message: ServerMessage) -> Self {
        Outgoing::Message(Box::new(message))
    }
}

impl Outgoing {
    /// The frame's text; `None` (skipped) if it cannot be serialised.
    fn into_text(self) -> Option<Utf8Bytes> {
        match self {
            Outgoing::Message(message) => serde_json::to_string(&message).ok().map(Into::into),
            Outgoing::Shared(change) => {
                let json = change.message_json();
                (!json.is_empty()).then(|| json.to_owned().into())
            }
        }
    }
}

struct Session {
    topics: HashSet<Topic>,
    /// Last position sent for stream topics (every projection reports the same events).
    last_stream_position: i64,
    /// The hub's number of the last change or resync this session processed (sent, or not
    /// covered by its topics): a `subscribe` with a resume cursor gets what lies between the
    /// cursor and this from the hub's ring, everything later arrives live.
    cursor: Resume,
    /// What this client may see.
    access: LiveAccess,
}

impl Session {
    /// Whether `change` goes to this client: some topic of it covers the change
    /// ([`Topic::covers`], the rule the browser applies too). Stream topics get one change per
    /// log position (every projection reports the same events).
    fn matches(&mut self, change: &Change) -> bool {
        let mut stream_hit = false;
        let hit = self.topics.iter().any(|topic| {
            if !topic.covers(change) {
                return false;
            }
            match topic {
                Topic::Stream { .. } => {
                    let fresh = change.position > self.last_stream_position;
                    stream_hit |= fresh;
                    fresh
                }
                _ => true,
            }
        });
        if stream_hit {
            self.last_stream_position = change.position;
        }
        hit
    }
}

async fn handle_client(
    state: &AppState,
    session: &mut Session,
    text: &str,
    push: &mut impl FnMut(ServerMessage) -> bool,
) -> bool {
    let message: ClientMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(error) => {
            return push(ServerMessage::Error {
                message: format!("invalid message: {error}"),
                position: head(state),
            });
        }
    };
    match message {
        ClientMessage::Ping => push(ServerMessage::Pong {
            position: head(state),
        }),
        ClientMessage::Unsubscribe { topics } => {
            for topic in &topics {
                session.topics.remove(topic);
            }
            true
        }
        ClientMessage::Subscribe {
            topics,
            since,
            resume,
        } => {
            if session.topics.len() + topics.len() > 64 {
                return push(ServerMessage::Error {
                    message: "too many topics".into(),
                    position: head(state),
                });
            }
            let mut allowed = Vec::with_capacity(topics.len());
            for topic in topics {
                if state.app.may_subscribe(&mut session.access, &topic).await {
                    allowed.push(topic);
                } else {
                    state.metrics.refused("ws_subscribe", "forbidden");
                    let message = format!(
                        "not allowed to subscribe to {}",
                        serde_json::to_string(&topic).unwrap_or_default()
                    );
                    if !push(ServerMessage::Error {
                        message,
                        position: head(state),
                    }) {
                        return false;
                    }
                }
            }
            let topics = allowed;
            session.topics.extend(topics.iter().cloned());
            if !push(ServerMessage::Subscribed {
                topics,
                position: head(state),
                resume: session.cursor.clone(),
            }) {
                return false;
            }
            if let Some(resume) = resume {
                // Exact: what was published after the client's cursor up to what this session
                // has processed (later changes arrive live, filtered by the new topics).
                match state.live.changes_between(&resume, &session.cursor) {
                    Some(changes) => {
                        for (seq, change) in changes {
                            let change = match state
                                .app
                                .visible_change(&mut session.access, &change)
                                .await
                            {
                                Visible::All => change,
                                Visible::Narrowed(narrow) => narrow,
                                Visible::Hidden => continue,
                            };
                            if session.matches(&change)
                                && !push(ServerMessage::Changed {
                                    position: change.position,
                                    change,
                                    seq,
                                })
                            {
                                return false;
                            }
                        }
                    }
                    None => {
                        if !push(ServerMessage::Resync {
                            position: head(state),
                            seq: session.cursor.seq,
                        }) {
                            return false;
                        }
                    }
                }
            } else if let Some(since) = since {
                match state.live.changes_since(since) {
                    Some(changes) => {
                        for change in changes {
                            let change = match state
                                .app
                                .visible_change(&mut session.access, &change)
                                .await
                            {
                                Visible::All => change,
                                Visible::Narrowed(narrow) => narrow,
                                Visible::Hidden => continue,
                            };
                            if session.matches(&change)
                                && !push(ServerMessage::Changed {
                                    position: change.position,
                                    change,
                                    seq: 0,
                                })
                            {
                                return false;
                            }
                        }
                    }
                    None => {
                        if !push(ServerMessage::Resync {
                            position: head(state),
                            seq: session.cursor.seq,
                        }) {
                            return false;
                        }
                    }
                }
            }
            push_status(state, session, push)
        }
    }
}

fn push_status(
    state: &AppState,
    session: &Session,
    push: &mut impl FnMut(ServerMessage) -> bool,
) -> bool {
    let position = head(state);
    if session.topics.contains(&Topic::Projections) {
        let projections = state.app.projection_statuses();
        if !push(ServerMessage::Projections {
            projections,
            position,
        }) {
            return false;
        }
    }
    if session.topics.contains(&Topic::Relay)
        && !push(ServerMessage::Relay {
            relay: state.app.relay_statuses(),
            position,
        })
    {
        return false;
    }
    if session.topics.contains(&Topic::Stats)
        && !push(ServerMessage::Stats {
            stats: state.app.console().stats(),
            position,
        })
    {
        return false;
    }
    true
}
