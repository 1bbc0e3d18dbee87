//! The read side of the store: queries, row decoding, upcasting, and the subscription stream
//! that follows the head watch. Cloned into every subscription; the writer never uses it.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::DateTime;
use sqlx::Row as _;
use sqlx::any::AnyRow;
use tokio::sync::watch;
use uuid::Uuid;

use crate::db::Db;
use crate::envelope::RecordedEvent;
use crate::error::{StoreError, StoreResult, is_connection_lost, is_timeout};
use crate::personal_data::KeyRing;
use crate::sql::Dialect;
use crate::upcast::UpcasterRegistry;

/// Events per `read_all` batch of a subscription.
const SUBSCRIBE_BATCH: u32 = 512;
/// Attempts of a read whose connection was lost (the pool hands out a tested one each time).
const READ_ATTEMPTS: u32 = 3;

/// Runs a read, again on another pooled connection when its connection was lost (a backend
/// terminated, the server restarted): a read changes nothing, so repeating it is always safe.
/// A connection loss that persists, or a timeout, answers [`StoreError::Unavailable`].
pub(crate) async fn read_retrying<T, F, Fut>(mut read: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 1;
    loop {
        match read().await {
            Ok(value) => return Ok(value),
            Err(e) if is_connection_lost(&e) && attempt < READ_ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "read lost its connection; reading again");
                attempt += 1;
            }
            Err(e) if is_connection_lost(&e) || is_timeout(&e) => {
                return Err(StoreError::Unavailable(e.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The read side, cloned into every subscription.
#[derive(Clone)]
pub(super) struct Reader {
    pub(super) db: Db,
    pub(super) upcasters: Arc<UpcasterRegistry>,
    /// Opens sealed personal fields on every read but the sealed ones (set once, at start).
    pub(super) keys: Arc<OnceLock<KeyRing>>,
}

impl Reader {
    pub(super) fn dialect(&self) -> &'static Dialect {
        self.db.backend().dialect()
    }

    /// The events after `after_position`, their personal fields opened.
    pub(super) async fn read_all(
        &self,
        after_position: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>> {
        let events = self.read_all_sealed(after_position, limit).await?;
        self.open(events).await
    }

    /// Opens the sealed personal fields of `events` (the plaintext, or the erased placeholder)
    /// when the store has a key ring.
    pub(super) async fn open(
        &self,
        mut events: Vec<RecordedEvent>,
    ) -> StoreResult<Vec<RecordedEvent>> {
        if let Some(keys) = self.keys.get() {
            keys.open_events(&mut events).await?;
        }
        Ok(events)
    }

    /// The events after `after_position` as stored: personal fields stay sealed.
    pub(super) async fn read_all_sealed(
        &self,
        after_position: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>> {
        let rows = read_retrying(|| {
            sqlx::query(self.dialect().read_all)
                .bind(after_position)
                .bind(i64::from(limit))
                .fetch_all(self.db.pool())
        })
        .await?;
        self.decode_all(&rows)
    }

    pub(super) fn decode_all(&self, rows: &[AnyRow]) -> StoreResult<Vec<RecordedEvent>> {
        rows.iter()
            .map(|row| self.upcasters.upcast(decode_event(row)?))
            .collect()
    }
}

pub(super) struct Subscription {
    pub(super) reader: Reader,
    pub(super) after: i64,
    pub(super) buffer: VecDeque<RecordedEvent>,
    pub(super) head: watch::Receiver<i64>,
    pub(super) done: bool,
}

impl Subscription {
    pub(super) async fn next(&mut self) -> Option<StoreResult<RecordedEvent>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.buffer.pop_front() {
                self.after = event.position;
                return Some(Ok(event));
            }
            // Mark the current head as seen BEFORE reading, so a commit that lands after the
            // read still wakes `changed()` below: no lost wake-up.
            let head = *self.head.borrow_and_update();
            match self.reader.read_all(self.after, SUBSCRIBE_BATCH).await {
                Ok(events) if !events.is_empty() => self.buffer.extend(events),
                Ok(_) => {
                    if head > self.after {
                        // The head moved (e.g. another process) but nothing is visible yet on
                        // this connection's snapshot: poll again shortly.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else if self.head.changed().await.is_err() {
                        return None; // store shut down
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

pub(super) fn decode_event(row: &AnyRow) -> StoreResult<RecordedEvent> {
    let event_id: String = row.try_get(1)?;
    let data: String = row.try_get(7)?;
    let metadata: String = row.try_get(8)?;
    let tags: Option<String> = row.try_get(10)?;
    Ok(RecordedEvent {
        position: row.try_get(0)?,
        event_id: parse_uuid(&event_id)?,
        stream_id: row.try_get(2)?,
        stream_type: row.try_get(3)?,
        version: row.try_get(4)?,
        event_type: row.try_get(5)?,
        schema_version: row.try_get(6)?,
        data: serde_json::from_str(&data)?,
        metadata: serde_json::from_str(&metadata)?,
        recorded_at: timestamp(row.try_get(9)?)?,
        tags: match tags {
            Some(tags) => serde_json::from_str(&tags)?,
            None => Vec::new(),
        },
    })
}

pub(super) fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Storage(sqlx::Error::Decode(Box::new(e))))
}

pub(super) fn timestamp(us: i64) -> StoreResult<DateTime<chrono::Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| {
        StoreError::Storage(sqlx::Error::Decode(
            format!("timestamp out of range: {us} µs").into(),
        ))
    })
}
