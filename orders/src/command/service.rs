//! The command service: the one write path of every use case. Generic code once
//! ([`CommandService::execute`]), driven by the `Aggregate` trait, plus one typed entry point
//! per use case for the REST API and the Leptos server functions.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use domain::customer::{Customer, CustomerCommand, CustomerEvent};
use domain::order::{Order, OrderCommand, OrderEvent};
use domain::product::{Product, ProductCommand, ProductEvent};
use domain::values::{
    Carrier, CustomerName, Email, Money, ProductName, Quantity, Reason, TrackingNumber,
};
use domain::{Aggregate, CustomerId, DomainError, OrderId, ProductId};
use eventstore::{
    AppendResult, Db, EventStore, ExpectedVersion, NewEvent, SqlEventStore, StoreError,
};
use rand::Rng as _;
use serde_json::json;
use tracing::{Instrument as _, debug, info, info_span, warn};
use uuid::Uuid;

use crate::command::error::{CommandError, CommandResult};
use crate::command::idempotency::{self, IdempotencyRecord, IdempotencyStore};
use crate::command::loader::{self, Loaded, to_domain_event};
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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: SqlEventStore,
    idempotency: IdempotencyStore,
    config: CommandConfig,
    locks: StreamLocks,
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
    pub async fn execute<A: Aggregate>(
        &self,
        id: Uuid,
        command: A::Command,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<A::Event>> {
        let request = format!("{command:?}");
        self.execute_request::<A, _>("execute", id, request, ctx, async { Ok(command) })
            .await
    }

    /// The one implementation behind every command. `request` identifies what the caller asked
    /// for (the idempotency comparison); `command` builds the command and is only awaited once
    /// the idempotency key (if any) turned out to be new, so a replay does no cross-aggregate
    /// loads and cannot fail on their rules.
    async fn execute_request<A, F>(
        &self,
        name: &'static str,
        id: Uuid,
        request: String,
        ctx: &CommandContext,
        command: F,
    ) -> CommandResult<CommandOutcome<A::Event>>
    where
        A: Aggregate,
        F: Future<Output = CommandResult<A::Command>>,
    {
        let stream_id = A::stream_id(id);
        let span = info_span!(
            "command",
            command = name,
            aggregate = A::STREAM_TYPE,
            stream = %stream_id,
            command_id = %ctx.command_id,
            correlation_id = %ctx.correlation_id,
            user_id = ctx.user_id.as_deref().unwrap_or(""),
            expected_version = ctx.expected_version,
            idempotency_key = ctx.idempotency_key.as_deref().unwrap_or(""),
        );
        async move {
            let keyed = match &ctx.idempotency_key {
                Some(key) => {
                    idempotency::validate_key(key)?;
                    let request_hash = format!("{}:{id}:{request}", A::STREAM_TYPE);
                    if let Some(outcome) =
                        self.replay::<A>(key, &request_hash, id, &stream_id).await?
                    {
                        info!(version = outcome.version, "idempotent replay");
                        return Ok(outcome);
                    }
                    Some((key.as_str(), request_hash))
                }
                None => None,
            };
            let command = command.await?;
            let result = self
                .decide_and_append::<A>(id, &stream_id, &command, ctx, keyed.as_ref())
                .await;
            match &result {
                Ok(outcome) => info!(
                    version = outcome.version,
                    position = outcome.position,
                    "command executed"
                ),
                Err(e) => info!(code = e.code(), error = %e, "command rejected"),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn decide_and_append<A: Aggregate>(
        &self,
        id: Uuid,
        stream_id: &str,
        command: &A::Command,
        ctx: &CommandContext,
        keyed: Option<&(&str, String)>,
    ) -> CommandResult<CommandOutcome<A::Event>> {
        let config = &self.inner.config;
        let _guard = if config.serialize_per_stream {
            Some(self.inner.locks.lock(stream_id).await)
        } else {
            None
        };
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let loaded = self.load::<A>(id).await?;
            if let Some(expected) = ctx.expected_version
                && loaded.version != expected
            {
                return Err(CommandError::Conflict {
                    stream: stream_id.to_owned(),
                    expected,
                    current: loaded.version,
                });
            }
            let events = match A::decide(&loaded.state, command) {
                Ok(events) => events,
                Err(rule) => {
                    // A twin with the same key may have landed between our replay check and
                    // our load (its line is there now, say): its result is ours.
                    if let Some((key, request_hash)) = keyed
                        && let Some(outcome) =
                            self.replay::<A>(key, request_hash, id, stream_id).await?
                    {
                        return Ok(outcome);
                    }
                    return Err(not_found::<A>(rule, id));
                }
            };
            if events.is_empty() {
                return Ok(CommandOutcome {
                    id,
                    stream_id: stream_id.to_owned(),
                    version: loaded.version,
                    position: 0,
                    events,
                    replayed: false,
                    attempts: attempt,
                });
            }
            let new_events =
                new_events(&events, ctx, keyed.map(|(key, hash)| (*key, hash.as_str())));
            let appended = self
                .inner
                .store
                .append(
                    stream_id,
                    A::STREAM_TYPE,
                    ExpectedVersion::Exact(loaded.version),
                    new_events,
                )
                .await;
            match appended {
                Ok(result) => {
                    return self
                        .after_append::<A>(id, stream_id, loaded, events, result, keyed)
                        .await
                        .map(|outcome| CommandOutcome {
                            attempts: attempt,
                            ..outcome
                        });
                }
                Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                    if let Some(expected) = ctx.expected_version {
                        return Err(CommandError::Conflict {
                            stream: stream_id.to_owned(),
                            expected,
                            current: actual,
                        });
                    }
                    if let Some((key, request_hash)) = keyed
                        && let Some(outcome) =
                            self.replay::<A>(key, request_hash, id, stream_id).await?
                    {
                        // A twin with the same key got there first.
                        return Ok(outcome);
                    }
                    if attempt >= config.max_attempts {
                        warn!(attempt, current = actual, "giving up after conflicts");
                        return Err(CommandError::Conflict {
                            stream: stream_id.to_owned(),
                            expected: loaded.version,
                            current: actual,
                        });
                    }
                    let pause = backoff(config, attempt);
                    debug!(attempt, current = actual, ?pause, "stream moved; retrying");
                    tokio::time::sleep(pause).await;
                }
                Err(StoreError::IdempotencyConflict { event_id }) => {
                    // Our deterministic event ids are stored with other content: the key was
                    // used by another request that won the race.
                    if let Some((key, request_hash)) = keyed {
                        if let Some(outcome) =
                            self.replay::<A>(key, request_hash, id, stream_id).await?
                        {
                            return Ok(outcome);
                        }
                        return Err(CommandError::IdempotencyKeyReused {
                            key: (*key).to_owned(),
                        });
                    }
                    return Err(StoreError::IdempotencyConflict { event_id }.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Snapshot if the append crossed a multiple of `snapshot_every`; idempotency row.
    async fn after_append<A: Aggregate>(
        &self,
        id: Uuid,
        stream_id: &str,
        loaded: Loaded<A::State>,
        events: Vec<A::Event>,
        result: AppendResult,
        keyed: Option<&(&str, String)>,
    ) -> CommandResult<CommandOutcome<A::Event>> {
        let every = self.inner.config.snapshot_every;
        // `first_version` differs from `loaded.version + 1` only when the store recognised a
        // retry of an earlier append: then our state is not the stream's.
        if let Ok(every) = i64::try_from(every)
            && every > 0
            && result.first_version == loaded.version + 1
            && result.last_version / every > (result.first_version - 1) / every
        {
            let state = domain::replay_from::<A>(loaded.state, &events);
            loader::save_snapshot::<A>(
                &self.inner.store,
                stream_id,
                result.last_version,
                A::SNAPSHOT_VERSION,
                &state,
            )
            .await;
        }
        if let Some((key, request_hash)) = keyed {
            let stored = self
                .inner
                .idempotency
                .insert(&IdempotencyRecord {
                    key: (*key).to_owned(),
                    request_hash: request_hash.clone(),
                    stream_id: stream_id.to_owned(),
                    version: result.last_version,
                    position: result.last_position,
                    event_count: result.last_version - result.first_version + 1,
                })
                .await;
            match stored {
                Ok(stored) if stored.request_hash != *request_hash => {
                    return Err(CommandError::IdempotencyKeyReused {
                        key: (*key).to_owned(),
                    });
                }
                Ok(_) => {}
                // The events are committed: failing the command now would report a written
                // command as failed. A retry with the key finds the events by their key-derived
                // ids and records the key then.
                Err(error) => tracing::warn!(
                    %error,
                    key = %key,
                    "command written but its idempotency key was not recorded"
                ),
            }
        }
        Ok(CommandOutcome {
            id,
            stream_id: stream_id.to_owned(),
            version: result.last_version,
            position: result.last_position,
            events,
            replayed: false,
            attempts: 1,
        })
    }

    /// The stored outcome of idempotency key `key`, if it was used already: from its row, or
    /// (a crash or a racing twin between append and row) from the events carrying the ids
    /// derived from the key. A different request under the same key is rejected.
    async fn replay<A: Aggregate>(
        &self,
        key: &str,
        request_hash: &str,
        id: Uuid,
        stream_id: &str,
    ) -> CommandResult<Option<CommandOutcome<A::Event>>> {
        let reused = || CommandError::IdempotencyKeyReused {
            key: key.to_owned(),
        };
        let idem = &self.inner.idempotency;
        let record = match idem.find(key).await? {
            Some(record) => record,
            None => {
                let Some((event_stream, first_version, _)) =
                    idem.find_event(idempotency::event_id(key, 0)).await?
                else {
                    return Ok(None);
                };
                if event_stream != stream_id {
                    return Err(reused());
                }
                // Only the request that wrote the events may adopt them.
                let first = self
                    .inner
                    .store
                    .read_stream(stream_id, first_version, 1)
                    .await?;
                let stored_hash = first
                    .first()
                    .and_then(|e| e.metadata.extra.get(IDEMPOTENCY_REQUEST_FIELD))
                    .and_then(serde_json::Value::as_str);
                if stored_hash.is_some_and(|h| h != request_hash) {
                    return Err(reused());
                }
                let (version, position, count) =
                    self.keyed_run(key, stream_id, first_version).await?;
                idem.insert(&IdempotencyRecord {
                    key: key.to_owned(),
                    request_hash: request_hash.to_owned(),
                    stream_id: stream_id.to_owned(),
                    version,
                    position,
                    event_count: count,
                })
                .await?
            }
        };
        if record.request_hash != request_hash || record.stream_id != stream_id {
            return Err(reused());
        }
        let first = record.version - record.event_count + 1;
        let limit = u32::try_from(record.event_count).unwrap_or(u32::MAX);
        let events = self
            .inner
            .store
            .read_stream(stream_id, first, limit)
            .await?
            .iter()
            .map(to_domain_event::<A>)
            .collect::<CommandResult<Vec<_>>>()?;
        Ok(Some(CommandOutcome {
            id,
            stream_id: stream_id.to_owned(),
            version: record.version,
            position: record.position,
            events,
            replayed: true,
            attempts: 0,
        }))
    }

    /// The events of key `key` stored from `first_version` on: `(last version, last position,
    /// count)`.
    async fn keyed_run(
        &self,
        key: &str,
        stream_id: &str,
        first_version: i64,
    ) -> CommandResult<(i64, i64, i64)> {
        let stored = self
            .inner
            .store
            .read_stream(stream_id, first_version, 1000)
            .await?;
        let mut last = (first_version, 0, 0);
        for (index, event) in stored.iter().enumerate() {
            if event.event_id != idempotency::event_id(key, index) {
                break;
            }
            last = (event.version, event.position, last.2 + 1);
        }
        Ok(last)
    }

    // -----------------------------------------------------------------------------------------
    // Orders

    /// Opens a draft order for an existing customer (its current name is copied into the
    /// order). Without `order_id`, the id is derived from the idempotency key if there is one
    /// (a retry opens the same order), else a new UUID v7.
    pub async fn place_order(
        &self,
        order_id: Option<OrderId>,
        customer_id: CustomerId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let order_id = OrderId::new(new_id::<Order>(order_id.map(Uuid::from), ctx));
        let request = json!({ "command": "PlaceOrder", "customer_id": customer_id }).to_string();
        let command = async move {
            let customer = self.load::<Customer>(customer_id.as_uuid()).await?;
            let (true, Some(customer_name)) = (customer.state.exists, customer.state.name) else {
                return Err(CommandError::NotFound {
                    kind: Customer::STREAM_TYPE,
                    id: customer_id.as_uuid(),
                });
            };
            Ok(OrderCommand::Place {
                order_id,
                customer_id,
                customer_name,
            })
        };
        self.execute_request::<Order, _>("place_order", order_id.as_uuid(), request, ctx, command)
            .await
    }

    /// Adds `quantity` units of an existing, not discontinued product to a draft order, at the
    /// product's current price, SKU and name.
    pub async fn add_item(
        &self,
        order_id: OrderId,
        product_id: ProductId,
        quantity: Quantity,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let request = json!({
            "command": "AddItem",
            "product_id": product_id,
            "quantity": quantity,
        })
        .to_string();
        let command = async move {
            let product = self.load::<Product>(product_id.as_uuid()).await?.state;
            let not_found = || CommandError::NotFound {
                kind: Product::STREAM_TYPE,
                id: product_id.as_uuid(),
            };
            if !product.exists {
                return Err(not_found());
            }
            if product.discontinued {
                return Err(DomainError::ProductDiscontinued.into());
            }
            let (Some(sku), Some(product_name)) = (product.sku, product.name) else {
                return Err(not_found());
            };
            Ok(OrderCommand::AddItem {
                product_id,
                sku,
                product_name,
                unit_price: product.price,
                quantity,
            })
        };
        self.execute_request::<Order, _>("add_item", order_id.as_uuid(), request, ctx, command)
            .await
    }

    /// Removes a product's line from a draft order.
    pub async fn remove_item(
        &self,
        order_id: OrderId,
        product_id: ProductId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order(
            order_id,
            OrderCommand::RemoveItem { product_id },
            "remove_item",
            ctx,
        )
        .await
    }

    /// Sets the quantity of a line of a draft order.
    pub async fn change_quantity(
        &self,
        order_id: OrderId,
        product_id: ProductId,
        quantity: Quantity,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let command = OrderCommand::ChangeQuantity {
            product_id,
            quantity,
        };
        self.order(order_id, command, "change_quantity", ctx).await
    }

    /// Confirms a draft order with at least one line.
    pub async fn confirm(
        &self,
        order_id: OrderId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order(order_id, OrderCommand::Confirm, "confirm", ctx)
            .await
    }

    /// Records that a confirmed order left with `carrier`.
    pub async fn ship(
        &self,
        order_id: OrderId,
        carrier: Carrier,
        tracking_number: TrackingNumber,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let command = OrderCommand::Ship {
            carrier,
            tracking_number,
        };
        self.order(order_id, command, "ship", ctx).await
    }

    /// Records that a shipped order arrived.
    pub async fn deliver(
        &self,
        order_id: OrderId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order(order_id, OrderCommand::MarkDelivered, "deliver", ctx)
            .await
    }

    /// Cancels an order that is not delivered yet.
    pub async fn cancel(
        &self,
        order_id: OrderId,
        reason: Reason,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        self.order(order_id, OrderCommand::Cancel { reason }, "cancel", ctx)
            .await
    }

    async fn order(
        &self,
        order_id: OrderId,
        command: OrderCommand,
        name: &'static str,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<OrderEvent>> {
        let request = format!("{command:?}");
        let id = order_id.as_uuid();
        self.execute_request::<Order, _>(name, id, request, ctx, async { Ok(command) })
            .await
    }

    // -----------------------------------------------------------------------------------------
    // Customers

    /// Registers a customer. Without `customer_id`, the id is derived from the idempotency key
    /// if there is one, else a new UUID v7.
    pub async fn register_customer(
        &self,
        customer_id: Option<CustomerId>,
        name: CustomerName,
        email: Email,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let customer_id = CustomerId::new(new_id::<Customer>(customer_id.map(Uuid::from), ctx));
        let command = CustomerCommand::Register {
            customer_id,
            name,
            email,
        };
        self.customer(customer_id, command, "register_customer", ctx)
            .await
    }

    /// Renames a customer.
    pub async fn rename_customer(
        &self,
        customer_id: CustomerId,
        name: CustomerName,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let command = CustomerCommand::Rename { name };
        self.customer(customer_id, command, "rename_customer", ctx)
            .await
    }

    /// Changes a customer's email address.
    pub async fn change_email(
        &self,
        customer_id: CustomerId,
        email: Email,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let command = CustomerCommand::ChangeEmail { email };
        self.customer(customer_id, command, "change_email", ctx)
            .await
    }

    async fn customer(
        &self,
        customer_id: CustomerId,
        command: CustomerCommand,
        name: &'static str,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<CustomerEvent>> {
        let request = format!("{command:?}");
        let id = customer_id.as_uuid();
        self.execute_request::<Customer, _>(name, id, request, ctx, async { Ok(command) })
            .await
    }

    // -----------------------------------------------------------------------------------------
    // Products

    /// Adds a product to the catalogue. Without `product_id`, the id is derived from the
    /// idempotency key if there is one, else a new UUID v7.
    pub async fn create_product(
        &self,
        product_id: Option<ProductId>,
        sku: domain::values::Sku,
        name: ProductName,
        price: Money,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let product_id = ProductId::new(new_id::<Product>(product_id.map(Uuid::from), ctx));
        let command = ProductCommand::Create {
            product_id,
            sku,
            name,
            price,
        };
        self.product(product_id, command, "create_product", ctx)
            .await
    }

    /// Sets a product's price (order lines added later use it; existing lines keep theirs).
    pub async fn reprice(
        &self,
        product_id: ProductId,
        price: Money,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        self.product(
            product_id,
            ProductCommand::Reprice { price },
            "reprice",
            ctx,
        )
        .await
    }

    /// Renames a product.
    pub async fn rename_product(
        &self,
        product_id: ProductId,
        name: ProductName,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let command = ProductCommand::Rename { name };
        self.product(product_id, command, "rename_product", ctx)
            .await
    }

    /// Takes a product off sale for good.
    pub async fn discontinue(
        &self,
        product_id: ProductId,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        self.product(product_id, ProductCommand::Discontinue, "discontinue", ctx)
            .await
    }

    async fn product(
        &self,
        product_id: ProductId,
        command: ProductCommand,
        name: &'static str,
        ctx: &CommandContext,
    ) -> CommandResult<CommandOutcome<ProductEvent>> {
        let request = format!("{command:?}");
        let id = product_id.as_uuid();
        self.execute_request::<Product, _>(name, id, request, ctx, async { Ok(command) })
            .await
    }
}

/// The id of a new aggregate: the given one, else derived from the idempotency key (a retry
/// creates the same aggregate), else a new UUID v7.
fn new_id<A: Aggregate>(given: Option<Uuid>, ctx: &CommandContext) -> Uuid {
    match (given, &ctx.idempotency_key) {
        (Some(id), _) => id,
        (None, Some(key)) => idempotency::event_id(&format!("{}:{key}", A::STREAM_TYPE), 0),
        (None, None) => Uuid::now_v7(),
    }
}

/// The "this aggregate does not exist" rules become [`CommandError::NotFound`]; other rules
/// stay [`CommandError::Domain`].
fn not_found<A: Aggregate>(error: DomainError, id: Uuid) -> CommandError {
    match error {
        DomainError::OrderNotFound
        | DomainError::CustomerNotFound
        | DomainError::ProductNotFound => CommandError::NotFound {
            kind: A::STREAM_TYPE,
            id,
        },
        other => CommandError::Domain(other),
    }
}

/// Envelopes for `events`, with the context's metadata; ids derived from the idempotency key
/// if there is one.
/// Metadata field of a keyed command's first event holding its request hash, so a recovery from
/// the events (no key row yet) can tell the same request from a different one under that key.
const IDEMPOTENCY_REQUEST_FIELD: &str = "idempotency_request";

fn new_events<E: domain::DomainEvent>(
    events: &[E],
    ctx: &CommandContext,
    keyed: Option<(&str, &str)>,
) -> Vec<NewEvent> {
    let metadata = ctx.event_metadata();
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let mut new = NewEvent::new(
                event.event_type(),
                event.schema_version(),
                event.to_data(),
                metadata.clone(),
            );
            if let Some((key, request_hash)) = keyed {
                new.event_id = idempotency::event_id(key, index);
                if index == 0 {
                    new.metadata.extra.insert(
                        IDEMPOTENCY_REQUEST_FIELD.to_owned(),
                        serde_json::Value::String(request_hash.to_owned()),
                    );
                }
            }
            new
        })
        .collect()
}

/// Full-jitter exponential backoff before attempt `attempt + 1`.
fn backoff(config: &CommandConfig, attempt: u32) -> Duration {
    let exp = config
        .retry_backoff
        .saturating_mul(2_u32.saturating_pow(attempt.saturating_sub(1)))
        .min(config.max_retry_backoff);
    let max_us = u64::try_from(exp.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rand::rng().random_range(0..=max_us))
}

/// One async lock per stream id, for [`CommandConfig::serialize_per_stream`]. Entries are weak:
/// a lock lives while someone holds or waits for it; dead entries are swept as the map grows.
#[derive(Debug, Default)]
struct StreamLocks {
    map: Mutex<LockMap>,
}

#[derive(Debug, Default)]
struct LockMap {
    locks: HashMap<String, Weak<tokio::sync::Mutex<()>>>,
    sweep_at: usize,
}

impl StreamLocks {
    async fn lock(&self, stream_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            match map.locks.get(stream_id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    map.locks
                        .insert(stream_id.to_owned(), Arc::downgrade(&lock));
                    if map.locks.len() > map.sweep_at {
                        map.locks.retain(|_, weak| weak.strong_count() > 0);
                        map.sweep_at = (map.locks.len() * 2).max(1024);
                    }
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}
