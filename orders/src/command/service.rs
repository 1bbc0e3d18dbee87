//! The command service: the one write path of every use case, the engine of the application
//! layer (`crate::application`). This file holds the handle, its configuration and what a
//! command returns; the generic load-decide-append loop is in `engine.rs`, idempotent replays
//! in `replay.rs`, the per-stream locks in `locks.rs`, the typed entry points per aggregate
//! in `orders.rs`, `customers.rs`, `products.rs` and `accounts.rs`, and what a command appends
//! besides its own events in `plan.rs` (stock: `stock.rs`; a unique email: `unique_email.rs`).

use std::sync::Arc;
use std::time::Duration;

use domain::Aggregate;
use eventstore::{Db, SqlEventStore};
use uuid::Uuid;

use crate::command::error::CommandResult;
use crate::command::idempotency::{self, IdempotencyStore};
use crate::command::identity::RequestIdentity;
use crate::command::loader::{self, Loaded};
use crate::command::locks::StreamLocks;
use crate::command::metadata::CommandContext;
use crate::command::registry::upcaster_registry;

/// Tuning of the command service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandConfig {
    /// A snapshot is written when an append crosses a multiple of this many events (and when
    /// a load had to read at least this many). 0 disables snapshots. Default 50.
    pub snapshot_every: u64,
    /// Attempts of a command without expected version when the stream moved between load
    /// and append (reload, decide again). Default 5.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles per attempt, with full jitter (a random
    /// pause between 0 and the bound), so racers spread out. Default 10 ms.
    pub retry_backoff: Duration,
    /// Longest backoff bound. Default 250 ms.
    pub max_retry_backoff: Duration,
    /// Run the commands of one stream one at a time within this service (an async lock per
    /// stream), so that concurrent requests in one process queue instead of racing; conflicts
    /// then only come from other processes (or other services) and are retried as above.
    /// Default true.
    pub serialize_per_stream: bool,
}

impl Default for CommandConfig {
    fn default() -> Self {
        Self {
            snapshot_every: 50,
            max_attempts: 5,
            retry_backoff: Duration::from_millis(10),
            max_retry_backoff: Duration::from_millis(250),
            serialize_per_stream: true,
        }
    }
}

/// What a successful command did.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome<E> {
    /// The aggregate id.
    pub id: Uuid,
    /// Its stream id, e.g. `order-<uuid>`.
    pub stream_id: String,
    /// The stream version after the command.
    pub version: i64,
    /// The global position of the command's last event (`AppendResult.last_position`); wait
    /// for projections to reach it to read your own writes.
    pub position: i64,
    /// The events the command appended.
    pub events: Vec<E>,
    /// Whether this is the stored result of an earlier command with the same idempotency key
    /// (nothing was written this time).
    pub replayed: bool,
    /// How many times the command was decided and appended (more than 1: the stream moved
    /// and the command was retried); 0 for a replay.
    pub attempts: u32,
}

/// The command service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CommandService {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) store: SqlEventStore,
    pub(super) idempotency: IdempotencyStore,
    pub(super) config: CommandConfig,
    pub(super) locks: StreamLocks,
}

impl CommandService {
    /// A service writing through `store` (open it with [`upcaster_registry`] so old event
    /// shapes load).
    pub fn new(store: SqlEventStore, config: CommandConfig) -> Self {
        let idempotency = IdempotencyStore::new(store.db().clone());
        Self {
            inner: Arc::new(Inner {
                store,
                idempotency,
                config,
                locks: StreamLocks::default(),
            }),
        }
    }

    /// Opens the event store on the migrated `db` with the domain's upcasters, and a service
    /// on it.
    pub async fn open(db: Db, config: CommandConfig) -> CommandResult<Self> {
        let store = SqlEventStore::open(db, upcaster_registry()).await?;
        Ok(Self::new(store, config))
    }

    /// The event store.
    pub fn store(&self) -> &SqlEventStore {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &CommandConfig {
        &self.inner.config
    }

    // -----------------------------------------------------------------------------------------
    // Loading

    /// The current state of aggregate `A` with id `id` (snapshot plus later events), with
    /// statistics of what was read.
    pub async fn load<A: Aggregate>(&self, id: Uuid) -> CommandResult<Loaded<A::State>> {
        self.load_with_snapshot_version::<A>(id, A::SNAPSHOT_VERSION)
            .await
    }

    /// [`load`](Self::load) with the snapshots of `snapshot_version` instead of
    /// `A::SNAPSHOT_VERSION` (what code with a bumped snapshot version would do).
    pub async fn load_with_snapshot_version<A: Aggregate>(
        &self,
        id: Uuid,
        snapshot_version: i32,
    ) -> CommandResult<Loaded<A::State>> {
        loader::load_aggregate::<A>(
            &self.inner.store,
            id,
            snapshot_version,
            self.inner.config.snapshot_every,
        )
        .await
    }

    // -----------------------------------------------------------------------------------------
    // The generic path

    /// Executes `command` on aggregate `A` with id `id`: load, decide, append with the exact
    /// expected version (see [`CommandContext`] for retries, conflicts and idempotency).
    pub async fn execute<A>(
        &self,
        id: Uuid,
        command: A::Command,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<A::Event>>
    where
        A: Aggregate,
        A::Command: RequestIdentity,
    {
        let request = command.identity();
        self.execute_request::<A, _>("execute", id, request, ctx, async { Ok(command) })
            .await
    }
}

/// The id of a new aggregate: the given one, else derived from the idempotency key (a retry
/// creates the same aggregate), else a new UUID v7.
pub(super) fn new_id<A: Aggregate>(given: Option<Uuid>, ctx: &CommandContext) -> Uuid {
    match (given, &ctx.idempotency_key) {
        (Some(id), _) => id,
        (None, Some(key)) => idempotency::event_id(&format!("{}:{key}", A::STREAM_TYPE), 0),
        (None, None) => Uuid::now_v7(),
    }
}
