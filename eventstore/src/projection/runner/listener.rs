//! The LISTEN side of the cross-instance notices (PostgreSQL only): other instances' batches
//! reach this instance's [`BatchApplied`] subscribers and standby checkpoints, wake notices reach
//! the holder task.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tracing::{debug, warn};

use super::notices::{Notice, handled_streams};
use super::shared::Shared;
use crate::db::Db;
use crate::projection::sql::NOTICE_CHANNEL;
use crate::projection::status::BatchApplied;
use crate::sql_store::SqlEventStore;
use crate::store::EventStore;

/// Receives the other instances' notices (PostgreSQL LISTEN) and feeds them into this runner:
/// batches into the [`BatchApplied`] broadcast and the standby checkpoints, wake-ups into the
/// holder task.
pub(super) struct Listener {
    pub(super) db: Db,
    pub(super) store: Arc<SqlEventStore>,
    pub(super) instance: String,
    pub(super) shared: Vec<Arc<Shared>>,
    pub(super) notify: broadcast::Sender<BatchApplied>,
    pub(super) shutdown: watch::Receiver<bool>,
}

impl Listener {
    pub(super) async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        let mut connected_before = false;
        loop {
            let listener = async {
                let mut l = sqlx::postgres::PgListener::connect(self.db.url()).await?;
                l.listen(NOTICE_CHANNEL).await?;
                Ok::<_, sqlx::Error>(l)
            };
            let mut listener = tokio::select! {
                l = listener => match l {
                    Ok(l) => l,
                    Err(e) => {
                        warn!(error = %e, "LISTEN {NOTICE_CHANNEL} failed; retrying");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            _ = self.shutdown.changed() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                },
                _ = self.shutdown.changed() => return,
            };
            backoff = Duration::from_millis(100);
            if connected_before {
                self.missed_notices();
            }
            connected_before = true;
            loop {
                let received = tokio::select! {
                    r = listener.try_recv() => r,
                    _ = self.shutdown.changed() => return,
                };
                match received {
                    Ok(Some(notification)) => self.handle(notification.payload()).await,
                    Ok(None) => {
                        // Connection lost; the next call reconnects and re-LISTENs.
                        warn!("LISTEN {NOTICE_CHANNEL} connection lost; reconnecting");
                        self.missed_notices();
                    }
                    Err(e) => {
                        warn!(error = %e, "LISTEN {NOTICE_CHANNEL} failed; reconnecting");
                        break;
                    }
                }
            }
        }
    }

    /// Notices may have been missed: live listeners refetch (a swap-like notification makes
    /// the hub resync its clients); standby checkpoints are polled anyway.
    fn missed_notices(&self) {
        let Some(first) = self.shared.first() else {
            return;
        };
        let head = *self.store.head_watch().borrow();
        let _ = self.notify.send(BatchApplied {
            projection: first.name.to_owned(),
            generation: first.status().generation,
            first_position: 1,
            last_position: head,
            streams: Vec::new(),
            event_count: 0,
            swapped: true,
        });
    }

    async fn handle(&self, payload: &str) {
        let notice: Notice = match serde_json::from_str(payload) {
            Ok(notice) => notice,
            Err(e) => {
                debug!(error = %e, "ignoring an unreadable projection notice");
                return;
            }
        };
        match notice {
            Notice::Wake {
                instance,
                projection,
            } => {
                if instance == self.instance {
                    return;
                }
                if let Some(shared) = self.shared.iter().find(|s| s.name == projection) {
                    shared.wake();
                }
            }
            Notice::Batch {
                instance,
                mut batch,
                truncated,
            } => {
                if instance == self.instance {
                    // Delivered locally already.
                    return;
                }
                let Some(shared) = self.shared.iter().find(|s| s.name == batch.projection) else {
                    return;
                };
                // Committed before the notice was delivered: read-your-writes may rely on it.
                shared.publish_checkpoint(batch.last_position);
                if truncated && !batch.swapped {
                    batch.streams = self.streams_of(&batch).await;
                }
                let _ = self.notify.send(batch);
            }
        }
    }

    /// The streams of a batch whose notice left them out, read back from the log.
    async fn streams_of(&self, batch: &BatchApplied) -> Vec<String> {
        let count = batch.last_position - batch.first_position + 1;
        let Ok(count) = u32::try_from(count.max(0)) else {
            return Vec::new();
        };
        let Some(shared) = self.shared.iter().find(|s| s.name == batch.projection) else {
            return Vec::new();
        };
        match self.store.read_all(batch.first_position - 1, count).await {
            Ok(events) => handled_streams(shared.projection.as_ref(), &events),
            Err(e) => {
                warn!(error = %e, "cannot read the streams of a remote batch");
                Vec::new()
            }
        }
    }
}
