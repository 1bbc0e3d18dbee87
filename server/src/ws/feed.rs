//! The live change feed behind the websockets: follows the projection runner's batch
//! notifications, fans them out to connections and keeps the recent ones so a reconnecting client
//! can be sent what it missed (or told to resync when it is too far behind).

use std::collections::VecDeque;
use std::sync::Mutex;

use domain::live::Change;
use eventstore::projection::ProjectionRunner;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Changes kept for resuming clients.
const BACKLOG: usize = 2048;
/// Capacity of the fan-out channel (a connection further behind gets a Resync).
const FANOUT: usize = 1024;

/// The feed. One per process.
#[derive(Debug)]
pub struct LiveFeed {
    sender: broadcast::Sender<Change>,
    backlog: Mutex<Backlog>,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Backlog {
    changes: VecDeque<Change>,
    /// Highest position dropped from the backlog (a client older than that must resync).
    dropped_up_to: i64,
}

/// What `since` resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Since {
    /// Everything after the position, oldest first.
    Changes(Vec<Change>),
    /// The position is older than what is kept: refetch.
    Resync,
}

impl LiveFeed {
    /// Starts following `runner`. `start_position` is the log head when the process started
    /// (a client resuming from before it must resync).
    pub fn start(runner: &ProjectionRunner, start_position: i64) -> std::sync::Arc<Self> {
        let (sender, _) = broadcast::channel(FANOUT);
        let feed = std::sync::Arc::new(Self {
            sender,
            backlog: Mutex::new(Backlog {
                changes: VecDeque::new(),
                dropped_up_to: start_position,
            }),
            task: Mutex::new(None),
        });
        let mut batches = runner.subscribe();
        let weak = std::sync::Arc::downgrade(&feed);
        let task = tokio::spawn(async move {
            loop {
                let batch = match batches.recv().await {
                    Ok(batch) => batch,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "live feed lagged behind the projection runner");
                        if let Some(feed) = weak.upgrade() {
                            feed.forget_backlog();
                        }
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let Some(feed) = weak.upgrade() else { break };
                feed.publish(Change {
                    projection: batch.projection,
                    position: batch.last_position,
                    streams: batch.streams,
                    orders: Vec::new(),
                });
            }
        });
        *feed.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        feed
    }

    /// Records and fans out one change.
    pub fn publish(&self, change: Change) {
        {
            let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
            if backlog.changes.len() >= BACKLOG
                && let Some(old) = backlog.changes.pop_front()
            {
                backlog.dropped_up_to = backlog.dropped_up_to.max(old.position);
            }
            backlog.changes.push_back(change.clone());
        }
        // No receivers is fine.
        let _ = self.sender.send(change);
    }

    fn forget_backlog(&self) {
        let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        let newest = backlog
            .changes
            .iter()
            .map(|c| c.position)
            .max()
            .unwrap_or(0);
        backlog.dropped_up_to = backlog.dropped_up_to.max(newest);
        backlog.changes.clear();
    }

    /// New changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// The kept changes after `position`, or `Resync` when some were dropped.
    pub fn changes_since(&self, position: i64) -> Since {
        let backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        if position < backlog.dropped_up_to {
            return Since::Resync;
        }
        Since::Changes(
            backlog
                .changes
                .iter()
                .filter(|c| c.position > position)
                .cloned()
                .collect(),
        )
    }

    /// Stops following the runner.
    pub fn shutdown(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}
