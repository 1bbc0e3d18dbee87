//! The live update hub: turns the projection runner's `BatchApplied` notifications into
//! [`Change`] messages for websocket clients.
//!
//! * After each committed batch that changed something (the projection handled at least one of
//!   its events) it publishes `Change { projection, position, streams }`, serialised once for
//!   every websocket ([`LiveChange`]), on a tokio broadcast channel. It reads nothing: a page
//!   refetches what it shows ([`domain::live::Topic::covers`] says which changes concern it).
//!   Batches of a projection that is not a [`ProjectionName`] are not published (no topic
//!   covers them).
//! * A subscriber that falls behind (broadcast `Lagged`) gets [`HubMessage::Resync`] instead of
//!   silently missing updates; so does everyone after a rebuild swap (any row may have changed)
//!   or when the hub itself lagged behind the runner.
//! * A bounded ring of recent changes (`ring.rs`), numbered in publish order, lets a
//!   reconnecting client catch up exactly: it sends the [`Resume`] cursor of the last message it
//!   got, and [`LiveHub::changes_between`] returns every change it missed, or `None` (resync)
//!   when the ring no longer holds them or the cursor is another hub's (a restart, another
//!   instance). [`LiveHub::changes_since`] is the coarse, position-based form for simple API
//!   clients: batches of different projections arrive in any order, so a change of a slower
//!   projection can carry a lower position than one already delivered, which a position cannot
//!   tell apart.
//!
//! Several instances: only the lease holder of a projection applies its batches; it notifies the
//! other instances through PostgreSQL LISTEN/NOTIFY and their runners forward those batches to
//! [`ProjectionRunner::subscribe`], so every instance's hub publishes every change.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use domain::live::{Change, ProjectionName, Resume, ServerMessage};
use eventstore::Db;
use eventstore::projection::{BatchApplied, ProjectionRunner};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tracing::{Instrument as _, debug, info_span, warn};
use uuid::Uuid;

mod ring;

use ring::Ring;

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum HubMessage {
    /// A read model changed (shared by every subscriber: one allocation, one serialisation).
    Change(Arc<LiveChange>),
    /// Updates were missed: refetch everything (state is at least at `position`; `seq` is the
    /// hub's sequence number of the resync).
    Resync { position: i64, seq: u64 },
}

/// A published [`Change`] with its websocket message ([`ServerMessage::Changed`]) serialised once
/// for every client. Derefs to the change.
#[derive(Debug, PartialEq)]
pub struct LiveChange {
    change: Change,
    seq: u64,
    json: String,
}

impl LiveChange {
    fn new(change: Change, seq: u64) -> Self {
        let message = ServerMessage::Changed {
            position: change.position,
            change: change.clone(),
            seq,
        };
        // Serialising plain data to a String cannot fail; an empty text is skipped by senders.
        let json = serde_json::to_string(&message).unwrap_or_default();
        Self { change, seq, json }
    }

    /// The hub's sequence number of this change.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The `changed` server message as JSON text (empty if it could not be serialised).
    pub fn message_json(&self) -> &str {
        &self.json
    }
}

impl std::ops::Deref for LiveChange {
    type Target = Change;
    fn deref(&self) -> &Change {
        &self.change
    }
}

/// Tuning of a [`LiveHub`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    /// Messages buffered per subscriber before it lags (and gets a resync).
    pub capacity: usize,
    /// Changes kept for [`LiveHub::changes_since`].
    pub ring: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            capacity: 256,
            ring: 1024,
        }
    }
}

/// The changes a client at `position` may have missed, oldest first. Projections advance
/// independently, so a slower projection can publish a change at a LOWER position after the
/// change at `position` the client saw: it cannot be told apart from one the client received,
/// so the answer is `None` (the client resyncs). Other changes at exactly `position` published
/// after the first one are sent again (a repeat only makes the client refetch).
fn changes_after<'a>(
    changes: impl Iterator<Item = &'a Change> + Clone,
    position: i64,
) -> Option<Vec<Change>> {
    // The client's position came from the first change that reached it (or a later one).
    let Some(seen) = changes.clone().position(|c| c.position >= position) else {
        return Some(Vec::new());
    };
    let later = changes.clone().skip(seen + 1);
    if later.clone().any(|c| c.position < position) {
        return None;
    }
    let first = changes.clone().nth(seen).filter(|c| c.position > position);
    Some(first.into_iter().chain(later).cloned().collect())
}

struct Inner {
    /// This hub's id: cursors of another hub (before a restart, another instance) resync.
    id: String,
    sender: broadcast::Sender<HubMessage>,
    ring: Mutex<Ring>,
    /// Highest position published.
    position: AtomicI64,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// The hub; cheap to clone. Dropping every clone does not stop the task: call
/// [`shutdown`](Self::shutdown).
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LiveHub {
    /// Subscribes to `runner` and starts publishing. `_db` is no longer read (changes carry no
    /// rows); it stays until the callers stop passing it.
    pub fn start(_db: Db, runner: &ProjectionRunner, config: HubConfig) -> Self {
        let start = runner
            .status()
            .iter()
            .map(|s| s.checkpoint)
            .max()
            .unwrap_or(0);
        Self::spawn(Some(runner.clone()), runner.subscribe(), start, config)
    }

    /// Publishes what `batches` delivers (for tests and custom sources); changes at or below
    /// `start_position` are considered already known to clients (reconnects from before it get a
    /// resync).
    pub fn from_receiver(
        batches: broadcast::Receiver<BatchApplied>,
        start_position: i64,
        config: HubConfig,
    ) -> Self {
        Self::spawn(None, batches, start_position, config)
    }

    fn spawn(
        runner: Option<ProjectionRunner>,
        batches: broadcast::Receiver<BatchApplied>,
        start_position: i64,
        config: HubConfig,
    ) -> Self {
        let (sender, _) = broadcast::channel(config.capacity.max(1));
        let inner = Arc::new(Inner {
            sender,
            id: Uuid::now_v7().to_string(),
            ring: Mutex::new(Ring::new(config.ring, start_position)),
            position: AtomicI64::new(start_position),
            task: Mutex::new(None),
        });
        let task =
            tokio::spawn(run(inner.clone(), runner, batches).instrument(info_span!("live_hub")));
        *lock(&inner.task) = Some(task);
        Self { inner }
    }

    /// A new subscriber; it receives what is published from now on, that is every change after
    /// its [`start`](HubSubscription::start) cursor.
    pub fn subscribe(&self) -> HubSubscription {
        // Under the ring's lock, which `publish` holds while it sends: nothing is published
        // between the subscription and reading its starting number.
        let ring = lock(&self.inner.ring);
        let receiver = self.inner.sender.subscribe();
        let start = Resume {
            hub: self.inner.id.clone(),
            seq: ring.last(),
        };
        drop(ring);
        HubSubscription {
            receiver,
            start,
            inner: self.inner.clone(),
        }
    }

    /// The changes published after `resume` up to `until` (a subscription's start: what comes
    /// later reaches it live), oldest first with their numbers; `None` when the client must
    /// resync (the ring forgot some of them, or `resume` is another hub's cursor).
    pub fn changes_between(&self, resume: &Resume, until: &Resume) -> Option<Vec<(u64, Change)>> {
        if resume.hub != self.inner.id || until.hub != self.inner.id {
            return None;
        }
        lock(&self.inner.ring).between(resume.seq, until.seq)
    }

    /// The changes after log position `position` (oldest first), or `None` when the ring no
    /// longer covers it (the client must resync). Coarse: see the module docs; browsers resume
    /// with [`changes_between`](Self::changes_between).
    pub fn changes_since(&self, position: i64) -> Option<Vec<Change>> {
        let ring = lock(&self.inner.ring);
        if position < ring.forgotten_position() {
            return None;
        }
        changes_after(ring.changes(), position)
    }

    /// Highest position published so far.
    pub fn position(&self) -> i64 {
        self.inner.position.load(Ordering::Acquire)
    }

    /// Stops the hub; subscribers then see the end of the stream.
    pub async fn shutdown(&self) {
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }
}

/// One subscriber's stream of [`HubMessage`]s.
pub struct HubSubscription {
    receiver: broadcast::Receiver<HubMessage>,
    start: Resume,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HubSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSubscription").finish_non_exhaustive()
    }
}

impl HubSubscription {
    /// The cursor this subscription starts after: it receives every later change.
    pub fn start(&self) -> &Resume {
        &self.start
    }

    /// The next message; a [`HubMessage::Resync`] when this subscriber fell behind (its backlog
    /// is dropped). `None` once the hub has stopped.
    pub async fn recv(&mut self) -> Option<HubMessage> {
        match self.receiver.recv().await {
            Ok(message) => Some(message),
            Err(RecvError::Lagged(missed)) => {
                debug!(missed, "hub subscriber lagged: resync");
                // Skip the rest of the backlog: the client refetches everything anyway.
                let ring = lock(&self.inner.ring);
                self.receiver = self.receiver.resubscribe();
                let seq = ring.last();
                drop(ring);
                Some(HubMessage::Resync {
                    position: self.inner.position.load(Ordering::Acquire),
                    seq,
                })
            }
            Err(RecvError::Closed) => None,
        }
    }
}

async fn run(
    inner: Arc<Inner>,
    runner: Option<ProjectionRunner>,
    mut batches: broadcast::Receiver<BatchApplied>,
) {
    loop {
        match batches.recv().await {
            Ok(batch) => {
                let position = batch.last_position;
                if batch.swapped {
                    // A rebuilt generation went live: any row may differ.
                    resync(&inner, position);
                    continue;
                }
                if batch.streams.is_empty() {
                    // The projection handled none of the batch's events: nothing changed.
                    continue;
                }
                let Some(projection) = ProjectionName::from_name(&batch.projection) else {
                    debug!(projection = %batch.projection, "not a live read model: not published");
                    continue;
                };
                let change = Change {
                    projection,
                    position,
                    streams: batch.streams,
                };
                publish(&inner, change);
            }
            Err(RecvError::Lagged(missed)) => {
                warn!(
                    missed,
                    "live hub lagged behind the projection runner: resync"
                );
                // The missed batches are committed, so none is beyond the runner's highest
                // checkpoint now: reconnects from below it must resync.
                let anchor = runner
                    .as_ref()
                    .and_then(|r| r.status().iter().map(|s| s.checkpoint).max())
                    .unwrap_or_else(|| inner.position.load(Ordering::Acquire));
                resync(&inner, anchor);
            }
            Err(RecvError::Closed) => break,
        }
    }
}

fn publish(inner: &Inner, change: Change) {
    inner.position.fetch_max(change.position, Ordering::AcqRel);
    let mut ring = lock(&inner.ring);
    let seq = ring.publish(change.clone());
    // Sent under the ring's lock: numbers reach subscribers in order, and a new subscription
    // never falls between a number and its message. No subscribers is not an error.
    let _ = inner
        .sender
        .send(HubMessage::Change(Arc::new(LiveChange::new(change, seq))));
}

/// Everyone refetches; the ring cannot answer for anything before this point.
fn resync(inner: &Inner, position: i64) {
    let position = inner
        .position
        .fetch_max(position, Ordering::AcqRel)
        .max(position);
    let mut ring = lock(&inner.ring);
    let seq = ring.resync(position);
    let _ = inner.sender.send(HubMessage::Resync { position, seq });
}

#[cfg(test)]
mod tests {
    use super::*;

    use domain::live::ProjectionName::{Dashboard, Orders};

    fn change(projection: ProjectionName, position: i64) -> Change {
        Change {
            projection,
            position,
            streams: Vec::new(),
        }
    }

    #[test]
    fn every_projection_of_the_platform_is_a_live_read_model() {
        let registered: std::collections::BTreeSet<_> = crate::projections::all()
            .iter()
            .map(|p| ProjectionName::from_name(p.name()))
            .collect();
        let live: std::collections::BTreeSet<_> =
            ProjectionName::ALL.into_iter().map(Some).collect();
        assert_eq!(registered, live);
    }

    #[test]
    fn resume_returns_what_came_after() {
        let ring = [change(Orders, 5), change(Orders, 7), change(Dashboard, 9)];
        let missed = changes_after(ring.iter(), 6).unwrap_or_default();
        assert_eq!(
            missed.iter().map(|c| c.position).collect::<Vec<_>>(),
            vec![7, 9]
        );
        assert_eq!(changes_after(ring.iter(), 9), Some(Vec::new()));
    }

    #[test]
    fn a_slower_projection_published_later_forces_a_resync() {
        // The client saw orders@10 and disconnected; dashboard then published its batch up to 8.
        let ring = [change(Orders, 10), change(Dashboard, 8)];
        assert_eq!(changes_after(ring.iter(), 10), None);
        // Same-position changes after the one the client saw are repeated, not dropped.
        let ring = [change(Orders, 10), change(Dashboard, 10)];
        let again = changes_after(ring.iter(), 10).unwrap_or_default();
        assert_eq!(
            again.iter().map(|c| c.projection).collect::<Vec<_>>(),
            vec![Dashboard]
        );
        // A client that had only seen position 7 saw neither: it gets both.
        assert_eq!(changes_after(ring.iter(), 7).map(|c| c.len()), Some(2));
    }
}
