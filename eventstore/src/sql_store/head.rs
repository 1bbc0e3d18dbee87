//! The log head: the last committed position, read from `log_head` and published in a watch
//! that subscriptions and projection runners wait on. The writer publishes its own commits;
//! a poller and, on PostgreSQL, a LISTEN task catch other processes' commits.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, warn};

use crate::db::Db;
use crate::error::StoreResult;
use crate::sql;

/// The head is re-read this often as a safety net (a missed notification, another process
/// appending to the same SQLite file).
const HEAD_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// PostgreSQL channel the writer notifies at commit.
pub const NOTIFY_CHANNEL: &str = "eventide_events";

pub(super) async fn read_head(db: &Db) -> StoreResult<i64> {
    let head: Option<i64> = super::reads::read_retrying(|| {
        sqlx::query_scalar(sql::HEAD_POSITION).fetch_optional(db.pool())
    })
    .await?;
    Ok(head.unwrap_or(0))
}

pub(super) fn publish_head(head: &watch::Sender<i64>, position: i64) {
    head.send_if_modified(|current| {
        if position > *current {
            *current = position;
            true
        } else {
            false
        }
    });
}

pub(super) async fn poll_head(db: Db, head: Arc<watch::Sender<i64>>) {
    let mut interval = tokio::time::interval(HEAD_POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match read_head(&db).await {
            Ok(position) => publish_head(&head, position),
            Err(e) => debug!(error = %e, "head poll failed"),
        }
    }
}

/// Forwards other processes' commits (`pg_notify` at commit) into the head watch. Reconnects
/// with exponential backoff; after a reconnect the head is re-read (notifications sent while
/// disconnected are lost).
pub(super) async fn listen_postgres(db: Db, head: Arc<watch::Sender<i64>>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect(db.url()).await {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "event store LISTEN connection failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
            warn!(error = %e, "LISTEN {NOTIFY_CHANNEL} failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
            continue;
        }
        backoff = Duration::from_millis(100);
        // Catch up on whatever committed while we were not listening.
        if let Ok(position) = read_head(&db).await {
            publish_head(&head, position);
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match notification.payload().parse::<i64>() {
                    Ok(position) => publish_head(&head, position),
                    Err(_) => {
                        if let Ok(position) = read_head(&db).await {
                            publish_head(&head, position);
                        }
                    }
                },
                // Connection lost; PgListener reconnects on the next call and re-LISTENs.
                Ok(None) => {
                    if let Ok(position) = read_head(&db).await {
                        publish_head(&head, position);
                    }
                }
                Err(e) => {
                    warn!(error = %e, "event store LISTEN failed; reconnecting");
                    tokio::time::sleep(backoff).await;
                    break;
                }
            }
        }
    }
}
