//! The `EventStore` trait: what every backend offers.

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::watch;
use uuid::Uuid;

use crate::envelope::{
    AppendCondition, AppendResult, EventQuery, ExpectedVersion, NewEvent, RecordedEvent, Snapshot,
    StreamAppend, StreamFilter, StreamInfo,
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

    /// Appends to several streams in one transaction, all or nothing: every stream's `expected`
    /// must hold and, with a `condition`, no event matching its query may be stored after its
    /// `after` position. Answers one result per stream, in the order given; the positions of
    /// the whole append are contiguous (stream after stream).
    ///
    /// Errors: [`StoreError::WrongExpectedVersions`] naming every stream whose version did not
    /// hold, [`StoreError::ConditionFailed`] with the first matching position,
    /// [`StoreError::NoStreams`], [`StoreError::DuplicateStream`],
    /// [`StoreError::EmptyStreamAppend`]; nothing is written. A retry with the same event ids
    /// and content answers the original results, even when the versions or the condition no
    /// longer hold (they moved because of the append itself).
    ///
    /// [`StoreError::WrongExpectedVersions`]: crate::StoreError::WrongExpectedVersions
    /// [`StoreError::ConditionFailed`]: crate::StoreError::ConditionFailed
    /// [`StoreError::NoStreams`]: crate::StoreError::NoStreams
    /// [`StoreError::DuplicateStream`]: crate::StoreError::DuplicateStream
    /// [`StoreError::EmptyStreamAppend`]: crate::StoreError::EmptyStreamAppend
    async fn append_multi(
        &self,
        appends: Vec<StreamAppend>,
        condition: Option<AppendCondition>,
    ) -> StoreResult<Vec<AppendResult>>;

    /// Events matching `query` with `position > after_position`, in position order, at most
    /// `limit`, upcast like every read. The decision read of a conditional append: pass the
    /// position of the last event it saw (or the head) as the condition's `after`.
    async fn read_query(
        &self,
        query: &EventQuery,
        after_position: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>>;

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
