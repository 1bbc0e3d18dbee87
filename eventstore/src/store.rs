//! The `EventStore` trait: what every backend offers.

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::watch;
use uuid::Uuid;

use crate::envelope::{
    AppendResult, ExpectedVersion, NewEvent, RecordedEvent, Snapshot, StreamFilter, StreamInfo,
};
use crate::error::StoreResult;

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream_id` atomically (all or nothing) if `expected` holds.
    /// Re-sending events whose ids are stored with identical content returns the original result.
    async fn append(
        &self,
        stream_id: &str,
        stream_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> StoreResult<AppendResult>;

    /// Events of one stream with `version >= from_version`, oldest first, at most `limit`.
    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>>;

    /// Current version of a stream; 0 when it does not exist.
    async fn stream_version(&self, stream_id: &str) -> StoreResult<i64>;

    /// Events of the global log with `position > after_position`, in position order, at most
    /// `limit`. Never skips an event that commits later with a lower position.
    async fn read_all(&self, after_position: i64, limit: u32) -> StoreResult<Vec<RecordedEvent>>;

    /// Highest committed position (0 when the log is empty).
    async fn head_position(&self) -> StoreResult<i64>;

    /// Events sharing a correlation id, in position order.
    async fn read_correlated(
        &self,
        correlation_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>>;

    /// The stream browser: filter by type and id prefix, keyset paging by stream id.
    async fn list_streams(&self, filter: &StreamFilter) -> StoreResult<Vec<StreamInfo>>;

    /// Catch up from `after_position`, then follow new commits live.
    fn subscribe(&self, after_position: i64) -> BoxStream<'static, StoreResult<RecordedEvent>>;

    /// Watch the committed head position (woken on every commit, also other processes' on Postgres).
    fn head_watch(&self) -> watch::Receiver<i64>;

    /// Replaces the stream's snapshot, unless the stored one is newer (same schema version, higher
    /// stream version): racing writers never move a snapshot backwards.
    async fn save_snapshot(&self, snapshot: &Snapshot) -> StoreResult<()>;

    /// The stream's snapshot if its schema version equals `schema_version`.
    async fn load_snapshot(
        &self,
        stream_id: &str,
        schema_version: i32,
    ) -> StoreResult<Option<Snapshot>>;
}
