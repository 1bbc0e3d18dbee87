//! The writer task: takes the appends off the queue, groups those waiting into one batch (see
//! the store's module docs: group commit) and answers each caller after the commit. The batch's
//! transaction is in `group_commit.rs`; what a failed append answers, in `duplicates.rs`.

mod duplicates;
mod group_commit;

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::Any;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument as _, info_span, warn};

use self::group_commit::run_batch;
use super::head::publish_head;
use crate::db::Db;
use crate::envelope::{AppendResult, ExpectedVersion, NewEvent};
use crate::error::{StoreError, StoreResult};

/// Most appends one group-commit transaction takes.
pub const MAX_BATCH_APPENDS: usize = 256;
/// Once a batch holds this many events it takes no further appends (a single larger append is
/// still written whole).
pub const MAX_BATCH_EVENTS: usize = 4096;

/// One event, serialised in the caller's task.
pub(super) struct PreparedEvent {
    event_id: String,
    data: String,
    metadata: String,
    correlation_id: Option<String>,
    event: NewEvent,
}

pub(super) struct AppendRequest {
    pub(super) stream_id: String,
    pub(super) stream_type: String,
    pub(super) expected: ExpectedVersion,
    pub(super) events: Vec<PreparedEvent>,
    pub(super) reply: oneshot::Sender<StoreResult<AppendResult>>,
    pub(super) span: tracing::Span,
}

pub(super) fn prepare(events: Vec<NewEvent>) -> StoreResult<Vec<PreparedEvent>> {
    let mut seen = HashSet::with_capacity(events.len());
    events
        .into_iter()
        .map(|event| {
            if !seen.insert(event.event_id) {
                // The same id twice in one append can never be stored.
                return Err(StoreError::IdempotencyConflict {
                    event_id: event.event_id,
                });
            }
            Ok(PreparedEvent {
                event_id: event.event_id.to_string(),
                data: serde_json::to_string(&event.data)?,
                metadata: serde_json::to_string(&event.metadata)?,
                correlation_id: event.metadata.correlation_id.map(|id| id.to_string()),
                event,
            })
        })
        .collect()
}

pub(super) async fn writer_loop(
    db: Db,
    mut receiver: mpsc::Receiver<AppendRequest>,
    head: Arc<watch::Sender<i64>>,
) {
    let dialect = db.backend().dialect();
    let mut conn: Option<PoolConnection<Any>> = None;
    while let Some(first) = receiver.recv().await {
        // The callers of the previous batch were just answered and are about to send their next
        // append: let them run once so they land in this batch rather than the next.
        tokio::task::yield_now().await;
        let mut events = first.events.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_APPENDS && events < MAX_BATCH_EVENTS {
            match receiver.try_recv() {
                Ok(request) => {
                    events += request.events.len();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        let span = info_span!("append_batch", size = batch.len(), events);
        let mut c = match conn.take() {
            Some(c) => c,
            None => match db.pool().acquire().await {
                Ok(c) => c,
                Err(e) => {
                    fail_batch(batch, &e);
                    continue;
                }
            },
        };
        let turn = db.write_turn().await;
        let result = run_batch(&mut c, dialect, &batch).instrument(span).await;
        drop(turn);
        match result {
            Ok((outcomes, new_head)) => {
                conn = Some(c);
                if let Some(position) = new_head {
                    publish_head(&head, position);
                }
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                warn!(error = %e, "group commit failed");
                // The connection may be broken: do not reuse it.
                c.close_on_drop();
                drop(c);
                fail_batch(batch, &e);
            }
        }
    }
}

/// Every append of a failed batch gets (a copy of) the storage error.
fn fail_batch(batch: Vec<AppendRequest>, error: &sqlx::Error) {
    for request in batch {
        let copy = if crate::error::is_disk_full(error) {
            StoreError::StorageFull(error.to_string())
        } else {
            StoreError::Storage(copy_error(error))
        };
        let _ = request.reply.send(Err(copy));
    }
}

/// `sqlx::Error` is not `Clone`: keep the I/O kind when there is one, the message otherwise.
fn copy_error(error: &sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::Io(e) => sqlx::Error::Io(std::io::Error::new(e.kind(), e.to_string())),
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        other => sqlx::Error::AnyDriverError(format!("group commit failed: {other}").into()),
    }
}

enum Outcome {
    /// Written now.
    Written(AppendResult),
    /// Already stored by an earlier append with the same ids and content: nothing written.
    Duplicate(AppendResult),
}

impl Outcome {
    fn into_result(self) -> AppendResult {
        match self {
            Outcome::Written(r) | Outcome::Duplicate(r) => r,
        }
    }
}

enum Failure {
    Store(StoreError),
    /// The expected version does not hold; unless the append is a retry (resolved after
    /// rolling back), this is the answer.
    Version(StoreError),
    /// A unique index refused the insert; resolved after rolling back to the savepoint.
    Unique(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Store(StoreError::from(e))
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

fn check_expected(stream: &str, expected: ExpectedVersion, actual: i64) -> StoreResult<()> {
    let ok = match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => actual == 0,
        ExpectedVersion::StreamExists => actual > 0,
        ExpectedVersion::Exact(version) => actual == version,
    };
    if ok {
        Ok(())
    } else {
        Err(StoreError::WrongExpectedVersion {
            stream: stream.to_owned(),
            expected,
            actual,
        })
    }
}
