//! Reading the log past what the store can read: an event its upcaster refuses, or whose row
//! does not decode, fails a whole `read_all`. [`SqlEventStore::read_all_readable`] answers the
//! readable events before it and the identity of that event (read with plain SQL, without its
//! data), found by bisection (about log2(limit) reads). The one mechanism behind the projection
//! runner's dead letters and the relay's fault.

use sqlx::Row as _;
use uuid::Uuid;

use super::SqlEventStore;
use crate::envelope::{EventMetadata, RecordedEvent};
use crate::error::{StoreError, StoreResult};
use crate::projection::sql::EVENT_IDENTITY;
use crate::upcast::is_unreadable;

/// An event the store refuses to hand out: its row's identity and why it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableEvent {
    pub position: i64,
    /// The nil id when the row's id is no UUID (the position still names the event).
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_type: String,
    pub version: i64,
    pub event_type: String,
    pub schema_version: i32,
    /// Why it cannot be read (the upcaster's refusal, the decode error).
    pub error: String,
}

impl UnreadableEvent {
    /// A stand-in envelope with the event's identity and no data (`null`).
    pub fn stand_in(&self) -> RecordedEvent {
        RecordedEvent {
            position: self.position,
            event_id: self.event_id,
            stream_id: self.stream_id.clone(),
            stream_type: self.stream_type.clone(),
            version: self.version,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            data: serde_json::Value::Null,
            metadata: EventMetadata::default(),
            recorded_at: chrono::Utc::now(),
            tags: Vec::new(),
        }
    }
}

/// What [`SqlEventStore::read_all_readable`] answers: the readable events in log order and,
/// when the event after the last of them cannot be read, that event.
#[derive(Debug)]
pub struct ReadableRun {
    pub events: Vec<RecordedEvent>,
    pub unreadable: Option<UnreadableEvent>,
}

impl SqlEventStore {
    /// `read_all_sealed(after, limit)` (personal fields as stored, sealed: what the relay
    /// publishes), except that an event the store cannot read ends the answer instead of
    /// failing it: the events before it, and it in [`ReadableRun::unreadable`].
    pub async fn read_all_readable(&self, after: i64, limit: u32) -> StoreResult<ReadableRun> {
        match self.read_all_sealed(after, limit).await {
            Ok(events) => Ok(ReadableRun {
                events,
                unreadable: None,
            }),
            Err(error) if is_unreadable(&error) => {
                self.locate_unreadable(after, limit, error).await
            }
            Err(error) => Err(error),
        }
    }

    /// `read_all(after, limit)` failed with `error`, an unreadable event: the longest readable
    /// prefix (bisection) and the identity of the event after it.
    pub async fn locate_unreadable(
        &self,
        after: i64,
        limit: u32,
        mut error: StoreError,
    ) -> StoreResult<ReadableRun> {
        let (mut good, mut bad) = (0_u32, limit);
        let mut events = Vec::new();
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            match self.read_all_sealed(after, mid).await {
                Ok(read) => {
                    good = mid;
                    events = read;
                }
                Err(e) if is_unreadable(&e) => {
                    bad = mid;
                    error = e;
                }
                Err(e) => return Err(e),
            }
        }
        let position = after + i64::from(good) + 1;
        let row = sqlx::query(EVENT_IDENTITY)
            .bind(position)
            .fetch_one(self.db().pool())
            .await?;
        let event_id: String = row.try_get(0)?;
        let unreadable = UnreadableEvent {
            position,
            event_id: Uuid::parse_str(&event_id).unwrap_or(Uuid::nil()),
            stream_id: row.try_get(1)?,
            stream_type: row.try_get(2)?,
            version: row.try_get(3)?,
            event_type: row.try_get(4)?,
            schema_version: row.try_get(5)?,
            error: error.to_string(),
        };
        Ok(ReadableRun {
            events,
            unreadable: Some(unreadable),
        })
    }
}
