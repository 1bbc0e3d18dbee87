//! `SqlEventStore`: the one implementation of [`EventStore`] for SQLite and PostgreSQL. The SQL
//! that differs per backend comes from [`crate::sql`]; everything else is here, once.
//!
//! # Writes: one writer task, group commit
//!
//! `append` and `append_multi` validate and serialise their events in the caller's task, then
//! hand them over an mpsc channel to a single writer task (`append` is `append_multi` with one
//! stream and no condition: there is one write path). The writer drains every waiting append (up to
//! [`MAX_BATCH_APPENDS`] appends / [`MAX_BATCH_EVENTS`] events) into ONE transaction with one
//! commit (one fsync) for the whole batch. Callers get their result through a oneshot, after the
//! commit. If the batch fails as a whole, none of it is written and every append gets the error.
//!
//! # Database faults
//!
//! - Lost connection (terminated backend, restarted server, proxy idle timeout): the writer
//!   keeps one connection across batches; when a batch loses it, the batch runs again on a fresh
//!   connection (a few attempts). Before the commit was sent nothing can be written; after it,
//!   the outcome is unknown and the re-run finds it out: it waits for the log head lock (the old
//!   transaction has ended either way) and an append that did commit answers its original result
//!   through idempotency. A caller never gets an error for an append that committed; when it
//!   cannot be found out, the error is the typed [`StoreError::OutcomeUnknown`] (retry with the
//!   same event ids).
//! - Callers that give up: an append whose future is dropped before its batch is sent, or while
//!   the batch waits for the log head lock, is withdrawn (not written).
//! - Timeouts: every PostgreSQL session has `lock_timeout`, `statement_timeout` and
//!   `idle_in_transaction_session_timeout` ([`crate::db::SessionLimits`]), each batch a
//!   client-side bound; a batch stuck behind another session's lock answers
//!   [`StoreError::Unavailable`] (nothing written) after `lock_timeout`, and
//!   [`SqlEventStore::check_writes`] reports it for readiness until the lock can be taken again.
//!
//! Every batch is four round trips in the common case (`sql::append`): begin; one statement
//! that advances the counter and reads the previous row's hash and the touched streams'
//! versions (locked); one that writes every event, its tags, the stream upserts and, on
//! PostgreSQL, the `pg_notify` of the new head (SQLite, which has no data-modifying CTEs, gets
//! one multi-statement call to its worker thread instead); commit. A single append takes as
//! many round trips as the seed design's begin, `select max(version)`, insert, commit. One more
//! statement when appends in the
//! batch are conditional (every condition of the batch in one statement, see below), one when
//! some append failed its check (which of them are retries, one look-up for all).
//!
//! A batch of several appends is written in bulk: version checks in memory (in batch order)
//! against the versions read under the counter lock, one multi-row insert of every event of
//! every passing append. If any statement fails (typically an event id that is already stored:
//! a retry whose expected version still holds), the transaction is rolled back and the batch runs again
//! append by append, each in its own savepoint, so every append gets its own exact answer.
//!
//! # Multi-stream and conditional appends
//!
//! An append (a writer request) is a list of streams, each with its expected version and its
//! events, and an optional condition ([`AppendCondition`]: no event matching a query by type
//! and tag after a position, the Dynamic Consistency Boundary of dcb.events). The writer treats
//! it as one unit: it passes or fails as a whole, and failing it fails nothing else of its batch.
//! - Versions: every stream of the append is checked (against the versions read under the head
//!   lock, updated in memory by the appends before it in the batch); a failure names every
//!   stream that failed ([`StoreError::WrongExpectedVersions`]; a single-stream `append` keeps
//!   answering [`StoreError::WrongExpectedVersion`]). Its events take contiguous positions,
//!   stream after stream.
//! - Conditions are checked in the batch's transaction after the log head lock is taken, and
//!   every writer of the log (this store, other processes on PostgreSQL, raw SQL that follows
//!   the schema's rule) takes that lock before it writes: nothing can be appended between the
//!   check and the commit, so a condition that passed still holds when its events become
//!   visible. That is what makes "exactly one of racing writers wins" hold across processes,
//!   without SERIALIZABLE isolation or predicate locks. Within a batch, the bulk path checks a
//!   condition against the log before the batch (one statement for all conditions of the batch:
//!   a column per condition, `min(position)` over one index scan per query item, each stopping
//!   at its first match) and, in memory, against the events of the appends planned before it in
//!   the batch (not those that failed); the per-append path asks the database inside the
//!   transaction, which sees the earlier savepoints' events. Cost: nothing for appends without a
//!   condition; one statement per batch that has some (per-append path: one per conditional
//!   append), plus a scan of the batch's events per conditional append.
//! - Idempotency comes first: a failed version check or condition is answered only after
//!   looking whether the append is a retry of a stored one (its own events match its condition
//!   once stored), which then answers its original results.
//!
//! # Tags
//!
//! An event's tags are stored twice: in the `events.tags` column (a JSON array, null without
//! tags) that every read path selects with the rest of the row, and in the `event_tags` table
//! (tag, position) that queries and conditions search. The copy costs one more bound value per
//! event on write; in exchange, reads need no join or per-backend aggregation (`group_concat`
//! / `string_agg`) and the read statements stay one simple `select` each (see
//! `migrations/*/0010_event_tags.sql`).
//!
//! # Hash chain
//!
//! With [`StoreOptions::hash_chain`] (the default) every row carries `hash` and `prev_hash`
//! ([`crate::chain`]): the content digest of each event is computed in `prepare`, in the caller's
//! task; the writer links the rows it places (two small SHA-256 blocks per row). The previous
//! hash comes back from the counter update itself (`ADVANCE_HEAD_CHAINED`: a subquery in its
//! `returning`), so the chain adds no statement to a batch. A predecessor without a hash is
//! chained as if it were the genesis: an append never fails because of the chain; verify
//! ([`crate::chain_verify`]) reports it. Rows from before the chain are hashed at open
//! (`crate::chain_backfill`).
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
//!
//! # Layout
//!
//! - this file: [`SqlEventStore`] and its [`EventStore`] implementation;
//! - `reads.rs`: the read side (row decoding, upcasting, subscriptions);
//! - `unreadable.rs`: reading the log up to an event the store cannot read, and naming it;
//! - `head.rs`: the log head (read, published in a watch, kept fresh by polling and LISTEN);
//! - `writer/`: the group-commit writer task and the validation of appends;
//!   `writer/group_commit.rs`: one batch's transaction (versions, conditions, inserts);
//!   `writer/duplicates.rs`: what a failed append answers (retries, idempotency conflicts);
//! - `crate::sql::query`: the SQL of queries by type and tag (`read_query`, conditions).

mod head;
mod reads;
mod search;
mod unreadable;
mod writer;

pub use head::NOTIFY_CHANNEL;
pub use search::{CLOCK_SLACK_US, EventCount, LogSearch, MAX_MATCHED_STREAMS, looks_like_short_id};
pub use unreadable::{ReadableRun, UnreadableEvent};
pub use writer::{MAX_BATCH_APPENDS, MAX_BATCH_EVENTS, WriterStatus};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_trait::async_trait;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use sqlx::Row as _;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument as _, info_span, warn};
use uuid::Uuid;

use self::head::{listen_postgres, poll_head, read_head};
pub(crate) use self::reads::read_retrying;
use self::reads::{Reader, Subscription, timestamp};
use self::writer::{AppendRequest, StreamWrite, WriteHealth, prepare, supervise_writer};
use crate::db::{Backend, Db, now_us};
use crate::envelope::{
    AppendCondition, AppendResult, EventQuery, ExpectedVersion, NewEvent, RecordedEvent, Snapshot,
    StreamAppend, StreamConflict, StreamFilter, StreamInfo,
};
use crate::error::{StoreError, StoreResult};
use crate::personal_data::KeyRing;
use crate::sql;
use crate::store::EventStore;
use crate::upcast::UpcasterRegistry;

/// How long [`SqlEventStore::check_writes`] waits for the log head lock.
pub const WRITE_PROBE_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Appends waiting for the writer before `append` itself waits (back-pressure).
const QUEUE_CAPACITY: usize = 4096;

/// How a [`SqlEventStore`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Every appended event carries a hash over its content and the previous event's hash
    /// ([`crate::chain`]); on by default. Off, `hash` and `prev_hash` stay null (the benchmark
    /// measures the append rate both ways).
    pub hash_chain: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { hash_chain: true }
    }
}

/// The event store on SQLite or PostgreSQL. Cheap to clone (shared state).
#[derive(Clone)]
pub struct SqlEventStore {
    inner: Arc<Inner>,
}

struct Inner {
    reader: Reader,
    sender: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    head_rx: watch::Receiver<i64>,
    health: Arc<WriteHealth>,
    options: StoreOptions,
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

impl std::fmt::Debug for SqlEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlEventStore")
            .field("db", &self.inner.reader.db)
            .finish_non_exhaustive()
    }
}

impl SqlEventStore {
    /// Starts the store on a migrated `db` (call [`Db::migrate`] first) with the default
    /// [`StoreOptions`] (hash chain on): spawns the writer task, a head poller and, on
    /// PostgreSQL, the LISTEN task. Needs a Tokio runtime.
    pub async fn open(db: Db, upcasters: UpcasterRegistry) -> StoreResult<Self> {
        Self::open_with(db, upcasters, StoreOptions::default()).await
    }

    /// [`open`](Self::open) with `options`. With the hash chain on, rows that have no hash yet
    /// (a database from before the chain) are hashed first, from position 1 in order
    /// ([`crate::chain_backfill`]), before the writer appends.
    pub async fn open_with(
        db: Db,
        upcasters: UpcasterRegistry,
        options: StoreOptions,
    ) -> StoreResult<Self> {
        if options.hash_chain {
            crate::chain_backfill::backfill(&db).await?;
        }
        let head = read_head(&db).await?;
        let (head_tx, head_rx) = watch::channel(head);
        let head_tx = Arc::new(head_tx);
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let health = Arc::new(WriteHealth::default());
        let writer = tokio::spawn(supervise_writer(
            db.clone(),
            receiver,
            head_tx.clone(),
            health.clone(),
        ));
        let mut background = vec![tokio::spawn(poll_head(db.clone(), head_tx.clone()))];
        if db.backend() == Backend::Postgres {
            background.push(tokio::spawn(listen_postgres(db.clone(), head_tx)));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                reader: Reader {
                    db,
                    upcasters: Arc::new(upcasters),
                    keys: Arc::new(OnceLock::new()),
                },
                sender: Mutex::new(Some(sender)),
                head_rx,
                health,
                options,
                writer: Mutex::new(Some(writer)),
                background: Mutex::new(background),
            }),
        })
    }

    /// The database this store writes to (the application's read models share it).
    pub fn db(&self) -> &Db {
        &self.inner.reader.db
    }

    /// From now on, every read path but [`Self::read_all_sealed`] (and what is built on it)
    /// opens sealed personal fields with `keys`. Set once; `false` if a key ring was set before.
    pub fn attach_key_ring(&self, keys: KeyRing) -> bool {
        self.inner.reader.keys.set(keys).is_ok()
    }

    /// The key ring personal fields are sealed and opened with, if one is attached.
    pub fn key_ring(&self) -> Option<&KeyRing> {
        self.inner.reader.keys.get()
    }

    /// Like [`EventStore::read_all`], but personal fields stay sealed as stored: what the relay
    /// publishes (so an erasure reaches the broker's copies too) and what the projections' log
    /// cache keeps (it opens on the way out, so nothing opened outlives an erasure in memory).
    pub async fn read_all_sealed(
        &self,
        after_position: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>> {
        self.inner
            .reader
            .read_all_sealed(after_position, limit)
            .await
    }

    /// Opens the sealed personal fields of `events` read with [`Self::read_all_sealed`].
    pub async fn open_sealed(&self, events: Vec<RecordedEvent>) -> StoreResult<Vec<RecordedEvent>> {
        self.inner.reader.open(events).await
    }

    /// The options the store was opened with.
    pub fn options(&self) -> StoreOptions {
        self.inner.options
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

    /// Whether appends can commit, for readiness checks. `Ok` while the writer's last batch did
    /// not fail for an unavailable database (no probe: nothing is locked). After such a failure,
    /// probes the log head lock (at most [`WRITE_PROBE_LOCK_TIMEOUT`], PostgreSQL) and answers
    /// [`StoreError::Unavailable`] while it cannot be taken or the database cannot be reached;
    /// once it can, the writer counts as healthy again (recovery needs no further append).
    ///
    /// While the writer task is down (it panicked and is not yet restarted), answers
    /// [`StoreError::Unavailable`] naming the writer.
    pub async fn check_writes(&self) -> StoreResult<()> {
        if self.inner.health.writer_down() {
            return Err(writer_down());
        }
        if !self.inner.health.failing() {
            return Ok(());
        }
        let db = &self.inner.reader.db;
        let probe = async {
            let mut conn = db.pool().acquire().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            if db.backend() == Backend::Postgres {
                sqlx::Executor::execute(
                    &mut *tx,
                    format!(
                        "set local lock_timeout = {}",
                        WRITE_PROBE_LOCK_TIMEOUT.as_millis()
                    )
                    .as_str(),
                )
                .await?;
            }
            let statement = format!("{}{}", sql::HEAD_POSITION, db.backend().dialect().lock_rows);
            let _: Option<i64> = sqlx::query_scalar(&statement)
                .persistent(false)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            Ok::<(), sqlx::Error>(())
        };
        match tokio::time::timeout(WRITE_PROBE_LOCK_TIMEOUT * 2, probe).await {
            Ok(Ok(())) => {
                self.inner.health.set_ok();
                Ok(())
            }
            Ok(Err(e)) => Err(StoreError::Unavailable(e.to_string())),
            Err(_) => Err(StoreError::Unavailable(
                "the log head lock probe timed out".into(),
            )),
        }
    }

    /// The writer task: running, restarts after panics, the last panic.
    pub fn writer_status(&self) -> WriterStatus {
        self.inner.health.writer_status()
    }

    /// Test hook (feature `testing`): the writer task panics on each of its next `batches`
    /// batches, before their transaction starts (nothing of them is written).
    #[cfg(feature = "testing")]
    pub fn inject_writer_panics(&self, batches: u32) {
        self.inner.health.hooks.arm_panics(batches);
    }

    /// Test hook (feature `testing`): the writer is restarted after `pause` instead of the
    /// growing pause, so a test can look at the store while no writer runs.
    #[cfg(feature = "testing")]
    pub fn set_writer_restart_pause(&self, pause: std::time::Duration) {
        self.inner.health.hooks.set_restart_pause(pause);
    }

    /// Hands a prepared append to the writer task and waits for its answer (one result per
    /// stream).
    async fn submit(
        &self,
        streams: Vec<StreamWrite>,
        condition: Option<AppendCondition>,
    ) -> StoreResult<Vec<AppendResult>> {
        let (reply, result) = oneshot::channel();
        let request = AppendRequest {
            streams,
            condition,
            reply,
            span: tracing::Span::current(),
        };
        let health = &self.inner.health;
        if health.writer_down() {
            return Err(writer_down());
        }
        let run = health.writer_run();
        self.sender()?
            .send(request)
            .await
            .map_err(|_| StoreError::Closed)?;
        match result.await {
            Ok(answer) => answer,
            // The writer answers every append it takes, also at shutdown: a reply dropped
            // unanswered means the writer task died holding it (perhaps after the commit).
            Err(_) => {
                health.reply_lost(run);
                warn!("the event store writer task died holding this append");
                Err(StoreError::OutcomeUnknown)
            }
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

/// A single-stream `append` keeps answering the single-stream conflict it always did.
fn single_stream_error(error: StoreError) -> StoreError {
    match error {
        StoreError::WrongExpectedVersions { conflicts } => {
            match <[StreamConflict; 1]>::try_from(conflicts) {
                Ok([conflict]) => StoreError::WrongExpectedVersion {
                    stream: conflict.stream,
                    expected: conflict.expected,
                    actual: conflict.actual,
                },
                Err(conflicts) => StoreError::WrongExpectedVersions { conflicts },
            }
        }
        other => other,
    }
}

/// The answer while no writer task runs.
fn writer_down() -> StoreError {
    StoreError::Unavailable("the event store writer task died and is being restarted".to_owned())
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
            let append = StreamAppend::new(stream_id, stream_type, expected, events);
            let (streams, condition) = prepare(vec![append], None, self.inner.options.hash_chain)?;
            let results = self
                .submit(streams, condition)
                .await
                .map_err(single_stream_error)?;
            results.into_iter().next().ok_or_else(|| {
                StoreError::Storage(sqlx::Error::Protocol(
                    "the writer answered an append without its result".into(),
                ))
            })
        }
        .instrument(span)
        .await
    }

    async fn append_multi(
        &self,
        appends: Vec<StreamAppend>,
        condition: Option<AppendCondition>,
    ) -> StoreResult<Vec<AppendResult>> {
        let span = info_span!(
            "append_multi",
            streams = appends.len(),
            count = appends.iter().map(|a| a.events.len()).sum::<usize>(),
            conditional = condition.is_some(),
        );
        async {
            let (streams, condition) = prepare(appends, condition, self.inner.options.hash_chain)?;
            self.submit(streams, condition).await
        }
        .instrument(span)
        .await
    }

    async fn read_query(
        &self,
        query: &EventQuery,
        after_position: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>> {
        sql::query::check_size(query)?;
        if query.items.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let r = &self.inner.reader;
        let (statement, params) = sql::query::read_query(r.dialect(), query, after_position, limit);
        let rows = read_retrying(|| {
            sql::query::bind_all(sqlx::query(&statement), &params).fetch_all(r.db.pool())
        })
        .await?;
        r.open(r.decode_all(&rows)?).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: u32,
    ) -> StoreResult<Vec<RecordedEvent>> {
        let r = &self.inner.reader;
        let rows = read_retrying(|| {
            sqlx::query(r.dialect().read_stream)
                .bind(stream_id)
                .bind(from_version)
                .bind(i64::from(limit))
                .fetch_all(r.db.pool())
        })
        .await?;
        r.open(r.decode_all(&rows)?).await
    }

    async fn stream_version(&self, stream_id: &str) -> StoreResult<i64> {
        let version: Option<i64> = read_retrying(|| {
            sqlx::query_scalar(sql::STREAM_VERSION)
                .bind(stream_id)
                .fetch_optional(self.inner.reader.db.pool())
        })
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
        let rows = read_retrying(|| {
            sqlx::query(r.dialect().read_correlated)
                .bind(correlation_id.to_string())
                .bind(i64::from(limit))
                .fetch_all(r.db.pool())
        })
        .await?;
        r.open(r.decode_all(&rows)?).await
    }

    /// `filter.limit == 0` means 100.
    async fn list_streams(&self, filter: &StreamFilter) -> StoreResult<Vec<StreamInfo>> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        // A short id (as lists show it) matches the id's tail; anything else its start.
        let (statement, id_filter, upper) = match filter.id_prefix.as_deref() {
            Some(p) if search::looks_like_short_id(p) => {
                (sql::LIST_STREAMS_TAILED, Some(p.to_ascii_lowercase()), None)
            }
            Some(p) => match search::prefix_upper_bound(p) {
                Some(upper) => (sql::LIST_STREAMS_PREFIXED, Some(p.to_owned()), Some(upper)),
                // An empty prefix (or one ending in the last code point) bounds nothing.
                None => (sql::LIST_STREAMS, None, None),
            },
            None => (sql::LIST_STREAMS, None, None),
        };
        let rows = read_retrying(|| {
            let mut query = sqlx::query(statement)
                .bind(filter.stream_type.as_deref())
                .bind(filter.after.as_deref())
                .bind(i64::from(limit));
            if let Some(id) = &id_filter {
                query = query.bind(id.as_str());
            }
            if let Some(upper) = &upper {
                query = query.bind(upper.as_str());
            }
            query.fetch_all(self.inner.reader.db.pool())
        })
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
        let state = serde_json::to_string(&snapshot.state)?;
        let now = now_us();
        // A conditional upsert: repeating it after a lost connection is safe.
        read_retrying(|| {
            sqlx::query(r.dialect().save_snapshot)
                .bind(&snapshot.stream_id)
                .bind(snapshot.version)
                .bind(snapshot.schema_version)
                .bind(&state)
                .bind(now)
                .execute(r.db.pool())
        })
        .await?;
        Ok(())
    }

    async fn load_snapshot(
        &self,
        stream_id: &str,
        schema_version: i32,
    ) -> StoreResult<Option<Snapshot>> {
        let r = &self.inner.reader;
        let row = read_retrying(|| {
            sqlx::query(r.dialect().load_snapshot)
                .bind(stream_id)
                .bind(schema_version)
                .fetch_optional(r.db.pool())
        })
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
