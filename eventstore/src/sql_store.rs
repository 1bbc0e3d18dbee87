//! `SqlEventStore`: the one implementation of [`EventStore`] for SQLite and PostgreSQL. The SQL
//! that differs per backend comes from [`crate::sql`]; everything else is here, once.
//!
//! # Writes: one writer task, group commit
//!
//! `append` validates and serialises its events in the caller's task, then hands them over an
//! mpsc channel to a single writer task. The writer drains every waiting append (up to
//! [`MAX_BATCH_APPENDS`] appends / [`MAX_BATCH_EVENTS`] events) into ONE transaction with one
//! commit (one fsync) for the whole batch. Callers get their result through a oneshot, after the
//! commit. If the commit itself fails, every append of the batch gets the storage error and none
//! is written.
//!
//! A batch of several appends is written in bulk: one counter update, one read of the touched
//! streams' versions, version checks in memory (in batch order), one multi-row insert of every
//! event of every passing append, one multi-row stream upsert: five statements whatever the
//! batch size. If any statement fails (typically an event id that is already stored: a retry
//! whose expected version still holds), the transaction is rolled back and the batch runs again
//! append by append, each in its own savepoint, so every append gets its own exact answer.
//!
//! # Gap-free global log
//!
//! Positions come from a single counter row: every append does
//! `update log_head set position = position + n returning position` inside the transaction. The
//! row lock is held until commit, so transactions that take positions are serialised (across
//! processes too, on PostgreSQL): positions are contiguous and become visible in commit order.
//! A reader of `where position > $1 order by position` therefore never passes a position whose
//! transaction commits later (the late-commit bug of sequence-based stores). The price is that
//! only one transaction appends at a time; group commit wins the throughput back.
//!
//! The counter row is always locked first, before any stream row: two stores can never
//! deadlock. Idempotency costs nothing on the happy path: a retry of a stored append always fails
//! either the version check or the unique event id index, and only then are the stored events
//! compared with the retried ones.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::DateTime;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection as _, Executor as _, Row as _};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, debug, info_span, warn};
use uuid::Uuid;

use crate::db::{Backend, Db, now_us};
use crate::envelope::{
    AppendResult, ExpectedVersion, NewEvent, RecordedEvent, Snapshot, StreamFilter, StreamInfo,
};
use crate::error::{StoreError, StoreResult};
use crate::placeholders::Placeholders;
use crate::sql::{self, Dialect};
use crate::store::EventStore;
use crate::upcast::UpcasterRegistry;

/// Most appends one group-commit transaction takes.
pub const MAX_BATCH_APPENDS: usize = 256;
/// Once a batch holds this many events it takes no further appends (a single larger append is
/// still written whole).
pub const MAX_BATCH_EVENTS: usize = 4096;
/// Appends waiting for the writer before `append` itself waits (back-pressure).
const QUEUE_CAPACITY: usize = 4096;
/// Events per `read_all` batch of a subscription.
const SUBSCRIBE_BATCH: u32 = 512;
/// The head is re-read this often as a safety net (a missed notification, another process
/// appending to the same SQLite file).
const HEAD_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// PostgreSQL channel the writer notifies at commit.
pub const NOTIFY_CHANNEL: &str = "eventide_events";

/// The event store on SQLite or PostgreSQL. Cheap to clone (shared state).
#[derive(Clone)]
pub struct SqlEventStore {
    inner: Arc<Inner>,
}

struct Inner {
    reader: Reader,
    sender: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    head_rx: watch::Receiver<i64>,
    writer: Mutex<Option<JoinHandle<()>>>,
    background: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The writer ends by itself once the channel is closed (after draining it).
        for task in self
            .background
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

/// The read side, cloned into every subscription.
#[derive(Clone)]
struct Reader {
    db: Db,
    upcasters: Arc<UpcasterRegistry>,
}

/// One event, serialised in the caller's task.
struct PreparedEvent {
    event_id: String,
    data: String,
    metadata: String,
    correlation_id: Option<String>,
    event: NewEvent,
}

struct AppendRequest {
    stream_id: String,
    stream_type: String,
    expected: ExpectedVersion,
    events: Vec<PreparedEvent>,
    reply: oneshot::Sender<StoreResult<AppendResult>>,
    span: tracing::Span,
}

impl std::fmt::Debug for SqlEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlEventStore")
            .field("db", &self.inner.reader.db)
            .finish_non_exhaustive()
    }
}

impl SqlEventStore {
    /// Starts the store on a migrated `db` (call [`Db::migrate`] first): spawns the writer task,
    /// a head poller and, on PostgreSQL, the LISTEN task. Needs a Tokio runtime.
    pub async fn open(db: Db, upcasters: UpcasterRegistry) -> StoreResult<Self> {
        let head = read_head(&db).await?;
        let (head_tx, head_rx) = watch::channel(head);
        let head_tx = Arc::new(head_tx);
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer = tokio::spawn(writer_loop(db.clone(), receiver, head_tx.clone()));
        let mut background = vec![tokio::spawn(poll_head(db.clone(), head_tx.clone()))];
        if db.backend() == Backend::Postgres {
            background.push(tokio::spawn(listen_postgres(db.clone(), head_tx)));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                reader: Reader {
                    db,
                    upcasters: Arc::new(upcasters),
                },
                sender: Mutex::new(Some(sender)),
                head_rx,
                writer: Mutex::new(Some(writer)),
                background: Mutex::new(background),
            }),
        })
    }

    /// The database this store writes to (the application's read models share it).
    pub fn db(&self) -> &Db {
        &self.inner.reader.db
    }

    /// The upcasters applied on every read path.
    pub fn upcasters(&self) -> &UpcasterRegistry {
        &self.inner.reader.upcasters
    }

    /// Stops accepting appends, waits until the queued ones are written, stops the background
    /// tasks. Subscriptions end once they have delivered what is committed. The pool stays
    /// open (it belongs to the [`Db`]; call [`Db::close`] to close it). Idempotent.
    pub async fn shutdown(&self) {
        let sender = self
            .inner
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(sender);
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer
            && let Err(e) = writer.await
        {
            warn!(error = %e, "event store writer task failed");
        }
        let tasks: Vec<_> = self
            .inner
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }

    fn sender(&self) -> StoreResult<mpsc::Sender<AppendRequest>> {
        self.inner
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(StoreError::Closed)
    }
}

#[async_trait]
impl EventStore for SqlEventStore {
    async fn append(
        &self,
        stream_id: &str,
        stream_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> StoreResult<AppendResult> {
        let span = info_span!("append", stream = %stream_id, count = events.len());
        async {
            if events.is_empty() {
                return Err(StoreError::EmptyAppend);
            }
            let events = prepare(events)?;
            let (reply, result) = oneshot::channel();
            let request = AppendRequest {
                stream_id: stream_id.to_owned(),
                stream_type: stream_type.to_owned(),
                expected,
                events,
                reply,
                span: tracing::Span::current(),
            };
            self.sender()?
                .send(request)
                .await
                .map_err(|_| StoreError::Closed)?;
            result.await.map_err(|_| StoreError::Closed)?
        }
        .instrument(span)
        .await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>> {
        let r = &self.inner.reader;
        let rows = sqlx::query(r.dialect().read_stream)
            .bind(stream_id)
            .bind(from_version)
            .bind(i64::from(limit))
            .fetch_all(r.db.pool())
            .await?;
        r.decode_all(&rows)
    }

    async fn stream_version(&self, stream_id: &str) -> StoreResult<i64> {
        let version: Option<i64> = sqlx::query_scalar(sql::STREAM_VERSION)
            .bind(stream_id)
            .fetch_optional(self.inner.reader.db.pool())
            .await?;
        Ok(version.unwrap_or(0))
    }

    async fn read_all(&self, after_position: i64, limit: u32) -> StoreResult<Vec<RecordedEvent>> {
        self.inner.reader.read_all(after_position, limit).await
    }

    async fn head_position(&self) -> StoreResult<i64> {
        read_head(&self.inner.reader.db).await
    }

    async fn read_correlated(
        &self,
        correlation_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>> {
        let r = &self.inner.reader;
        let rows = sqlx::query(r.dialect().read_correlated)
            .bind(correlation_id.to_string())
            .bind(i64::from(limit))
            .fetch_all(r.db.pool())
            .await?;
        r.decode_all(&rows)
    }

    /// `filter.limit == 0` means 100.
    async fn list_streams(&self, filter: &StreamFilter) -> StoreResult<Vec<StreamInfo>> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        let rows = sqlx::query(sql::LIST_STREAMS)
            .bind(filter.stream_type.as_deref())
            .bind(filter.id_prefix.as_deref())
            .bind(filter.after.as_deref())
            .bind(i64::from(limit))
            .fetch_all(self.inner.reader.db.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.try_get(2)?;
                Ok(StreamInfo {
                    stream_id: row.try_get(0)?,
                    stream_type: row.try_get(1)?,
                    version,
                    // Versions are contiguous from 1 and events are never deleted.
                    event_count: version,
                    last_event_at: timestamp(row.try_get(3)?)?,
                })
            })
            .collect()
    }

    /// Batches of `read_all`; when caught up, waits for the head to move. Ends after yielding
    /// an error (resubscribe from the last position seen) or when the store shuts down.
    fn subscribe(&self, after_position: i64) -> BoxStream<'static, StoreResult<RecordedEvent>> {
        let state = Subscription {
            reader: self.inner.reader.clone(),
            after: after_position,
            buffer: VecDeque::new(),
            head: self.inner.head_rx.clone(),
            done: false,
        };
        futures::stream::unfold(state, |mut s| async move {
            let item = s.next().await?;
            Some((item, s))
        })
        .boxed()
    }

    fn head_watch(&self) -> watch::Receiver<i64> {
        self.inner.head_rx.clone()
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> StoreResult<()> {
        let r = &self.inner.reader;
        sqlx::query(r.dialect().save_snapshot)
            .bind(&snapshot.stream_id)
            .bind(snapshot.version)
            .bind(snapshot.schema_version)
            .bind(serde_json::to_string(&snapshot.state)?)
            .bind(now_us())
            .execute(r.db.pool())
            .await?;
        Ok(())
    }

    async fn load_snapshot(
        &self,
        stream_id: &str,
        schema_version: i32,
    ) -> StoreResult<Option<Snapshot>> {
        let r = &self.inner.reader;
        let row = sqlx::query(r.dialect().load_snapshot)
            .bind(stream_id)
            .bind(schema_version)
            .fetch_optional(r.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let state: String = row.try_get(2)?;
        Ok(Some(Snapshot {
            stream_id: stream_id.to_owned(),
            version: row.try_get(0)?,
            schema_version: row.try_get(1)?,
            state: serde_json::from_str(&state)?,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

impl Reader {
    fn dialect(&self) -> &'static Dialect {
        self.db.backend().dialect()
    }

    async fn read_all(&self, after_position: i64, limit: u32) -> StoreResult<Vec<RecordedEvent>> {
        let rows = sqlx::query(self.dialect().read_all)
            .bind(after_position)
            .bind(i64::from(limit))
            .fetch_all(self.db.pool())
            .await?;
        self.decode_all(&rows)
    }

    fn decode_all(&self, rows: &[AnyRow]) -> StoreResult<Vec<RecordedEvent>> {
        rows.iter()
            .map(|row| self.upcasters.upcast(decode_event(row)?))
            .collect()
    }
}

struct Subscription {
    reader: Reader,
    after: i64,
    buffer: VecDeque<RecordedEvent>,
    head: watch::Receiver<i64>,
    done: bool,
}

impl Subscription {
    async fn next(&mut self) -> Option<StoreResult<RecordedEvent>> {
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

fn decode_event(row: &AnyRow) -> StoreResult<RecordedEvent> {
    let event_id: String = row.try_get(1)?;
    let data: String = row.try_get(7)?;
    let metadata: String = row.try_get(8)?;
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
    })
}

fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Storage(sqlx::Error::Decode(Box::new(e))))
}

fn timestamp(us: i64) -> StoreResult<DateTime<chrono::Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| {
        StoreError::Storage(sqlx::Error::Decode(
            format!("timestamp out of range: {us} µs").into(),
        ))
    })
}

async fn read_head(db: &Db) -> StoreResult<i64> {
    let head: Option<i64> = sqlx::query_scalar(sql::HEAD_POSITION)
        .fetch_optional(db.pool())
        .await?;
    Ok(head.unwrap_or(0))
}

fn publish_head(head: &watch::Sender<i64>, position: i64) {
    head.send_if_modified(|current| {
        if position > *current {
            *current = position;
            true
        } else {
            false
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Background tasks

async fn poll_head(db: Db, head: Arc<watch::Sender<i64>>) {
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
async fn listen_postgres(db: Db, head: Arc<watch::Sender<i64>>) {
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

// ---------------------------------------------------------------------------------------------
// Writing

fn prepare(events: Vec<NewEvent>) -> StoreResult<Vec<PreparedEvent>> {
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

async fn writer_loop(
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

type BatchResult = (Vec<StoreResult<AppendResult>>, Option<i64>);

/// One group-commit transaction. `Err` means the transaction as a whole failed (nothing of the
/// batch is written); per-append failures are in the outcomes.
///
/// A batch of several appends first takes the bulk path (a fixed handful of statements whatever
/// the batch size); if anything in it fails (an event id that is already stored, a storage
/// error) it is rolled back and the batch runs again append by append, where each append gets
/// its own exact answer.
async fn run_batch(
    conn: &mut AnyConnection,
    dialect: &'static Dialect,
    batch: &[AppendRequest],
) -> Result<BatchResult, sqlx::Error> {
    if batch.len() > 1 {
        match run_batch_bulk(conn, dialect, batch).await {
            Ok(result) => return Ok(result),
            Err(e) => debug!(error = %e, "bulk append failed; running the batch append by append"),
        }
    }
    run_batch_per_append(conn, dialect, batch).await
}

/// The bulk path: the whole batch in five statements (counter, stream versions, one multi-row
/// insert, one multi-row stream upsert, commit), whatever the number of appends. Version checks
/// run in memory against the versions read under the counter lock, in batch order, so two
/// appends to one stream in one batch see each other. Appends that fail their check write
/// nothing; they are answered after the insert (a retry of a stored append gets its original
/// result). Any database error fails the whole attempt, and the caller falls back to
/// [`run_batch_per_append`].
async fn run_batch_bulk(
    conn: &mut AnyConnection,
    dialect: &'static Dialect,
    batch: &[AppendRequest],
) -> Result<BatchResult, sqlx::Error> {
    let now = now_us();
    let total: usize = batch.iter().map(|r| r.events.len()).sum();
    let total =
        i64::try_from(total).map_err(|_| sqlx::Error::Protocol("batch too large".into()))?;
    let mut tx = conn.begin_with(dialect.begin_write).await?;
    // Advance by everything the batch could write; lowered below if some appends fail. The row
    // lock is held until commit, so nobody sees the intermediate value.
    let advanced: i64 = sqlx::query_scalar(sql::ADVANCE_HEAD)
        .bind(total)
        .fetch_one(&mut *tx)
        .await?;
    let mut next_position = advanced - total + 1;

    let mut stream_ids: Vec<&str> = batch.iter().map(|r| r.stream_id.as_str()).collect();
    stream_ids.sort_unstable();
    stream_ids.dedup();
    // One statement: a batch holds at most MAX_BATCH_APPENDS appends.
    let statement = sql::stream_versions(dialect, stream_ids.len());
    let mut query = sqlx::query_as::<_, (String, i64)>(&statement);
    for id in &stream_ids {
        query = query.bind(*id);
    }
    let mut versions: HashMap<&str, i64> = HashMap::with_capacity(stream_ids.len());
    for (id, version) in query.fetch_all(&mut *tx).await? {
        if let Ok(i) = stream_ids.binary_search(&id.as_str()) {
            versions.insert(stream_ids[i], version);
        }
    }

    let mut rows = Vec::with_capacity(batch.len());
    let mut planned = Vec::with_capacity(batch.len());
    // Touched streams in first-write order, with their type; their last version is `versions`.
    let mut touched: Vec<(&str, &str)> = Vec::new();
    for request in batch {
        let current = versions
            .get(request.stream_id.as_str())
            .copied()
            .unwrap_or(0);
        if let Err(e) = check_expected(&request.stream_id, request.expected, current) {
            planned.push(Err(e));
            continue;
        }
        let count = request.events.len() as i64;
        for (offset, event) in (0_i64..).zip(&request.events) {
            rows.push(EventRow {
                request,
                event,
                position: next_position + offset,
                version: current + 1 + offset,
            });
        }
        planned.push(Ok(AppendResult {
            first_version: current + 1,
            last_version: current + count,
            first_position: next_position,
            last_position: next_position + count - 1,
        }));
        next_position += count;
        if !touched.iter().any(|(id, _)| *id == request.stream_id) {
            touched.push((&request.stream_id, &request.stream_type));
        }
        versions.insert(&request.stream_id, current + count);
    }

    insert_rows(&mut tx, dialect, &rows, now).await?;
    for chunk in touched.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = sql::upsert_streams(dialect, chunk.len());
        let mut query = sqlx::query(&statement);
        for (id, stream_type) in chunk {
            let version = versions.get(id).copied().unwrap_or(0);
            query = query
                .bind(*id)
                .bind(*stream_type)
                .bind(version)
                .bind(now)
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    let last_position = next_position - 1;
    if last_position != advanced {
        sqlx::query(sql::SET_HEAD)
            .bind(last_position)
            .execute(&mut *tx)
            .await?;
    }

    let mut outcomes = Vec::with_capacity(batch.len());
    for (request, plan) in batch.iter().zip(planned) {
        outcomes.push(match plan {
            Ok(result) => Ok(result),
            // A retry of a stored append fails its version check: answer the original result.
            Err(e) => resolve_failure(&mut tx, dialect, request, Failure::Version(e))
                .await
                .map(Outcome::into_result),
        });
    }
    let new_head = (!rows.is_empty()).then_some(last_position);
    commit_batch(tx, dialect, new_head).await?;
    Ok((outcomes, new_head))
}

/// The exact path: each append in its own savepoint, so a failing append (version or
/// idempotency conflict, a unique index) is rolled back alone and gets its own error.
async fn run_batch_per_append(
    conn: &mut AnyConnection,
    dialect: &'static Dialect,
    batch: &[AppendRequest],
) -> Result<BatchResult, sqlx::Error> {
    let now = now_us();
    // A lone append needs no savepoint: if it fails, the whole transaction is rolled back.
    let savepoints = batch.len() > 1;
    let mut tx = conn.begin_with(dialect.begin_write).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut new_head = None;
    for request in batch {
        if savepoints {
            tx.execute(sql::SAVEPOINT).await?;
        }
        let attempt = append_one(&mut tx, dialect, request, now)
            .instrument(request.span.clone())
            .await;
        // On success the savepoint is not released (one round trip saved): the savepoints of a
        // batch nest, `rollback to` always targets the innermost one, commit ends them all.
        let outcome = match attempt {
            Ok(outcome) => Ok(outcome),
            Err(failure) if !savepoints => {
                tx.rollback().await?;
                let outcome = resolve_failure(conn, dialect, request, failure).await;
                return Ok((vec![outcome.map(Outcome::into_result)], None));
            }
            Err(failure) => {
                tx.execute(sql::ROLLBACK_TO_SAVEPOINT).await?;
                resolve_failure(&mut tx, dialect, request, failure).await
            }
        };
        if let Ok(Outcome::Written(result)) = &outcome {
            new_head = Some(result.last_position);
        }
        outcomes.push(outcome.map(Outcome::into_result));
    }
    commit_batch(tx, dialect, new_head).await?;
    Ok((outcomes, new_head))
}

/// Commits a batch; when it wrote something, other processes are woken with the new head in the
/// same transaction (PostgreSQL `pg_notify`, delivered at commit).
async fn commit_batch(
    mut tx: sqlx::Transaction<'_, Any>,
    dialect: &Dialect,
    new_head: Option<i64>,
) -> Result<(), sqlx::Error> {
    if let (Some(position), Some(notify)) = (new_head, dialect.notify) {
        sqlx::query(notify)
            .bind(position.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// One row of a multi-row event insert.
struct EventRow<'a> {
    request: &'a AppendRequest,
    event: &'a PreparedEvent,
    position: i64,
    version: i64,
}

/// Inserts `rows` (of any streams) in multi-row statements of at most
/// [`sql::INSERT_CHUNK_ROWS`] rows, all recorded at `now`.
async fn insert_rows(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    rows: &[EventRow<'_>],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = sql::insert_events(dialect, chunk.len());
        let mut query = sqlx::query(&statement);
        for row in chunk {
            query = query
                .bind(row.position)
                .bind(&row.event.event_id)
                .bind(&row.request.stream_id)
                .bind(&row.request.stream_type)
                .bind(row.version)
                .bind(&row.event.event.event_type)
                .bind(row.event.event.schema_version)
                .bind(&row.event.data)
                .bind(&row.event.metadata)
                .bind(row.event.correlation_id.as_deref())
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

async fn append_one(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
    now: i64,
) -> Result<Outcome, Failure> {
    let count = i64::try_from(request.events.len())
        .map_err(|_| StoreError::Storage(sqlx::Error::Protocol("append too large".into())))?;

    // Positions: takes the counter row lock, held until commit (see the module docs).
    let last_position: i64 = sqlx::query_scalar(sql::ADVANCE_HEAD)
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
    let first_position = last_position - count + 1;

    let current: i64 = sqlx::query_scalar(dialect.lock_stream)
        .bind(&request.stream_id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0);
    check_expected(&request.stream_id, request.expected, current).map_err(Failure::Version)?;
    let first_version = current + 1;

    let rows: Vec<EventRow<'_>> = (0_i64..)
        .zip(&request.events)
        .map(|(offset, event)| EventRow {
            request,
            event,
            position: first_position + offset,
            version: first_version + offset,
        })
        .collect();
    insert_rows(tx, dialect, &rows, now)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Failure::Unique(e),
            _ => Failure::Store(StoreError::from(e)),
        })?;

    let last_version = current + count;
    sqlx::query(sql::UPSERT_STREAM)
        .bind(&request.stream_id)
        .bind(&request.stream_type)
        .bind(last_version)
        .bind(now)
        .execute(&mut *tx)
        .await?;

    Ok(Outcome::Written(AppendResult {
        first_version,
        last_version,
        first_position,
        last_position,
    }))
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

/// Idempotency: if the first event id is stored, the append is a retry. It returns the original
/// result when every event is stored with identical content, in the same stream and order;
/// otherwise it is an `IdempotencyConflict`. JSON is compared by parsed value (JSONB
/// normalises text).
async fn find_duplicate(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
) -> StoreResult<Option<AppendResult>> {
    let Some(first) = request.events.first() else {
        return Err(StoreError::EmptyAppend);
    };
    let found: Option<(String, i64)> = sqlx::query_as(sql::FIND_EVENT)
        .bind(&first.event_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((stream_id, first_version)) = found else {
        return Ok(None);
    };
    let conflict = |event_id| Err(StoreError::IdempotencyConflict { event_id });
    if stream_id != request.stream_id {
        return conflict(first.event.event_id);
    }
    let count = i64::try_from(request.events.len()).unwrap_or(i64::MAX);
    let rows = sqlx::query(dialect.read_stream)
        .bind(&stream_id)
        .bind(first_version)
        .bind(count)
        .fetch_all(&mut *tx)
        .await?;
    let mut positions = (0, 0);
    for (i, event) in request.events.iter().enumerate() {
        let Some(row) = rows.get(i) else {
            return conflict(event.event.event_id);
        };
        let stored = decode_event(row)?;
        let same = stored.event_id == event.event.event_id
            && stored.event_type == event.event.event_type
            && stored.schema_version == event.event.schema_version
            && stored.data == event.event.data
            && stored.metadata == event.event.metadata;
        if !same {
            return conflict(event.event.event_id);
        }
        if i == 0 {
            positions.0 = stored.position;
        }
        positions.1 = stored.position;
    }
    Ok(Some(AppendResult {
        first_version,
        last_version: first_version + count - 1,
        first_position: positions.0,
        last_position: positions.1,
    }))
}

/// What a failed append (already rolled back) answers. Idempotency is checked here, on the
/// failure path only: a retry of a stored append either fails the version check (the stream
/// moved on) or hits the unique event id index, so the happy path needs no extra query.
async fn resolve_failure(
    conn: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
    failure: Failure,
) -> StoreResult<Outcome> {
    match failure {
        Failure::Store(e) => Err(e),
        Failure::Version(e) => match find_duplicate(conn, dialect, request).await? {
            Some(result) => Ok(Outcome::Duplicate(result)),
            None => Err(e),
        },
        Failure::Unique(e) => resolve_unique_violation(conn, dialect, request, e).await,
    }
}

/// A unique index refused the insert (a writer that raced us, e.g. another process). Runs after
/// the savepoint rollback: a stored event id means a retry or an idempotency conflict; otherwise
/// the `(stream_id, version)` index fired and the stream moved under us.
async fn resolve_unique_violation(
    tx: &mut AnyConnection,
    dialect: &Dialect,
    request: &AppendRequest,
    error: sqlx::Error,
) -> StoreResult<Outcome> {
    if let Some(result) = find_duplicate(tx, dialect, request).await? {
        return Ok(Outcome::Duplicate(result));
    }
    for chunk in request.events.chunks(sql::INSERT_CHUNK_ROWS) {
        let statement = format!(
            "select event_id from events where event_id in ({})",
            Placeholders::new(dialect.backend).list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(&statement);
        for event in chunk {
            query = query.bind(&event.event_id);
        }
        if let Some(existing) = query.persistent(false).fetch_all(&mut *tx).await?.first() {
            return Err(StoreError::IdempotencyConflict {
                event_id: parse_uuid(existing)?,
            });
        }
    }
    let actual: i64 = sqlx::query_scalar(sql::STREAM_VERSION)
        .bind(&request.stream_id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0);
    match check_expected(&request.stream_id, request.expected, actual) {
        // The stream moved: report it as the typed conflict it is.
        Err(e) => Err(e),
        // Not a version conflict either (e.g. `Any` racing a foreign writer): report it raw.
        Ok(()) => Err(StoreError::Storage(error)),
    }
}
