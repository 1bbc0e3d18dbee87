//! The generic path every command takes: idempotency check, per-stream lock, load (snapshot +
//! tail), decide, append with the exact expected version, bounded jittered retries when the
//! stream moved (or a typed conflict when the caller named the version), snapshot, key row.

use std::future::Future;
use std::time::Duration;

use domain::{Aggregate, DomainError, DomainEvent as _};
use eventstore::{
    AppendResult, EventStore, ExpectedVersion, NewEvent, StoreError, StreamAppend, StreamConflict,
};
use rand::Rng as _;
use tracing::{Instrument as _, debug, info, info_span, warn};
use uuid::Uuid;

use crate::command::error::{CommandError, CommandResult};
use crate::command::idempotency::{self, IdempotencyRecord};
use crate::command::loader::{self, Loaded};
use crate::command::metadata::CommandContext;
use crate::command::personal_data;
use crate::command::plan::{CommandPlan, Linked, NoPlan, Plan};
use crate::command::service::{CommandConfig, CommandOutcome, CommandService};

/// Fewest attempts of a command whose plan touches other streams: 64 clients confirming orders
/// for the same 10 products on several instances move those streams constantly.
const LINKED_MIN_ATTEMPTS: u32 = 12;

impl CommandService {
    /// The one implementation behind every command. `request` identifies what the caller asked
    /// for (the idempotency comparison); `command` builds the command and is only awaited once
    /// the idempotency key (if any) turned out to be new, so a replay does no cross-aggregate
    /// loads and cannot fail on their rules.
    pub(super) async fn execute_request<A, F>(
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
        self.execute_planned::<A, F>(name, id, request, ctx, command, &NoPlan)
            .await
    }

    /// [`execute_request`](Self::execute_request) with a [`CommandPlan`]: what the command
    /// appends besides its own events, in the same atomic append.
    pub(super) async fn execute_planned<A, F>(
        &self,
        name: &'static str,
        id: Uuid,
        request: String,
        ctx: &CommandContext,
        command: F,
        plan: &dyn CommandPlan<A>,
    ) -> CommandResult<CommandOutcome<A::Event>>
    where
        A: Aggregate,
        F: Future<Output = CommandResult<A::Command>>,
    {
        let stream_id = A::stream_id(id);
        let named;
        let ctx = if ctx.command.is_none() {
            named = ctx.clone().with_command(name);
            &named
        } else {
            ctx
        };
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
                    // A digest, not the text: the request may name a customer (their name and
                    // address), and the digest is stored beside the key and in the first event.
                    let request_hash =
                        idempotency::request_digest(&format!("{}:{id}:{request}", A::STREAM_TYPE));
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
                .decide_and_append::<A>(id, &stream_id, &command, ctx, keyed.as_ref(), plan)
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
        plan: &dyn CommandPlan<A>,
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
                // A twin with the same key may have moved the stream past the version we were
                // given (it saw the same one): its result is ours, not a conflict.
                if let Some(outcome) = self.twin::<A>(keyed, id, stream_id).await? {
                    return Ok(outcome);
                }
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
                    if let Some(outcome) = self.twin::<A>(keyed, id, stream_id).await? {
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
            let planned = match plan.plan(self, id, &loaded.state, &events).await {
                Ok(planned) => planned,
                Err(CommandError::Domain(rule)) => {
                    if let Some(outcome) = self.twin::<A>(keyed, id, stream_id).await? {
                        return Ok(outcome);
                    }
                    return Err(not_found::<A>(rule, id));
                }
                Err(e) => return Err(e),
            };
            let key = keyed.map(|(key, hash)| (*key, hash.as_str()));
            // A command that touches only its own stream gives up after `max_attempts`; one
            // whose plan links other streams or carries a condition races more writers.
            let attempts = if planned.linked.is_empty() && planned.condition.is_none() {
                config.max_attempts
            } else {
                config.max_attempts.max(LINKED_MIN_ATTEMPTS)
            };
            let mut new_events = new_events(
                events
                    .iter()
                    .map(|e| (e.event_type(), e.schema_version(), e.to_data())),
                0,
                ctx,
                key,
            );
            for (event, tags) in new_events.iter_mut().zip(&planned.tags) {
                event.tags.clone_from(tags);
            }
            let mut linked_events = linked_events(&planned, new_events.len(), ctx, key);
            if let Some(keys) = self.inner.store.key_ring() {
                for event in &mut new_events {
                    personal_data::seal(keys, stream_id, event).await?;
                }
                for (linked, events) in planned.linked.iter().zip(&mut linked_events) {
                    for event in events {
                        personal_data::seal(keys, &linked.stream_id, event).await?;
                    }
                }
            }
            let appended = self
                .append_planned::<A>(
                    stream_id,
                    loaded.version,
                    new_events,
                    linked_events,
                    &planned,
                )
                .await;
            match appended {
                Ok(results) => {
                    self.snapshot_linked(&planned.linked, &results[1..]).await;
                    let result = results[0];
                    return self
                        .after_append::<A>(id, stream_id, loaded, events, result, keyed)
                        .await
                        .map(|outcome| CommandOutcome {
                            attempts: attempt,
                            ..outcome
                        });
                }
                Err(StoreError::WrongExpectedVersions { conflicts }) => {
                    // The command's stream or a linked one (a product's stock) moved. A twin
                    // with the same key got there first: its result is ours, with or without an
                    // expected version (the twin was checked against the same one).
                    if let Some(outcome) = self.twin::<A>(keyed, id, stream_id).await? {
                        return Ok(outcome);
                    }
                    let own = conflicts.iter().find(|c| c.stream == stream_id);
                    if let (Some(expected), Some(own)) = (ctx.expected_version, own) {
                        return Err(CommandError::Conflict {
                            stream: stream_id.to_owned(),
                            expected,
                            current: own.actual,
                        });
                    }
                    if attempt >= attempts {
                        let first = own.or(conflicts.first());
                        warn!(attempt, ?conflicts, "giving up after conflicts");
                        return Err(match first {
                            Some(c) => CommandError::Conflict {
                                stream: c.stream.clone(),
                                expected: match c.expected {
                                    ExpectedVersion::Exact(v) => v,
                                    _ => 0,
                                },
                                current: c.actual,
                            },
                            None => CommandError::Conflict {
                                stream: stream_id.to_owned(),
                                expected: loaded.version,
                                current: loaded.version,
                            },
                        });
                    }
                    let pause = backoff(config, attempt);
                    debug!(attempt, ?conflicts, ?pause, "streams moved; retrying");
                    tokio::time::sleep(pause).await;
                }
                Err(StoreError::ConditionFailed { position }) => {
                    // Someone stored an event the command's condition rules out (a racing
                    // sign-up with the same email): decide again on what is there now.
                    if let Some(outcome) = self.twin::<A>(keyed, id, stream_id).await? {
                        return Ok(outcome);
                    }
                    if attempt >= attempts {
                        warn!(attempt, position, "giving up after failed conditions");
                        return Err(CommandError::Conflict {
                            stream: stream_id.to_owned(),
                            expected: loaded.version,
                            current: loaded.version,
                        });
                    }
                    debug!(attempt, position, "condition failed; deciding again");
                }
                Err(StoreError::IdempotencyConflict { event_id }) => {
                    // Our deterministic event ids are stored with other content: the key was
                    // used by another request that won the race.
                    if let Some((key, _)) = keyed {
                        if let Some(outcome) = self.twin::<A>(keyed, id, stream_id).await? {
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

    /// Appends the command's events, with its plan's linked streams and condition: a plain
    /// append when the plan adds nothing, else one atomic multi-stream append. One result per
    /// stream, the command's own first.
    async fn append_planned<A: Aggregate>(
        &self,
        stream_id: &str,
        version: i64,
        own: Vec<NewEvent>,
        linked_events: Vec<Vec<NewEvent>>,
        planned: &Plan,
    ) -> Result<Vec<AppendResult>, StoreError> {
        let store = &self.inner.store;
        if planned.linked.is_empty() && planned.condition.is_none() {
            // One conflict shape for the caller, whichever way the append went.
            let appended = store
                .append(
                    stream_id,
                    A::STREAM_TYPE,
                    ExpectedVersion::Exact(version),
                    own,
                )
                .await;
            return match appended {
                Ok(result) => Ok(vec![result]),
                Err(StoreError::WrongExpectedVersion {
                    stream,
                    expected,
                    actual,
                }) => Err(StoreError::WrongExpectedVersions {
                    conflicts: vec![StreamConflict {
                        stream,
                        expected,
                        actual,
                    }],
                }),
                Err(e) => Err(e),
            };
        }
        let mut appends = vec![StreamAppend::new(
            stream_id,
            A::STREAM_TYPE,
            ExpectedVersion::Exact(version),
            own,
        )];
        for (linked, events) in planned.linked.iter().zip(linked_events) {
            appends.push(StreamAppend::new(
                linked.stream_id.clone(),
                linked.stream_type,
                ExpectedVersion::Exact(linked.version),
                events,
            ));
        }
        store.append_multi(appends, planned.condition.clone()).await
    }

    /// Snapshots of the linked streams whose append crossed a multiple of `snapshot_every`.
    async fn snapshot_linked(&self, linked: &[Linked], results: &[AppendResult]) {
        let Ok(every) = i64::try_from(self.inner.config.snapshot_every) else {
            return;
        };
        if every <= 0 {
            return;
        }
        for (linked, result) in linked.iter().zip(results) {
            if result.first_version == linked.version + 1
                && result.last_version / every > (result.first_version - 1) / every
            {
                let (schema_version, state) = &linked.snapshot;
                loader::save_snapshot_value(
                    &self.inner.store,
                    &linked.stream_id,
                    result.last_version,
                    *schema_version,
                    state.clone(),
                )
                .await;
            }
        }
    }

    /// The stored result of a twin request with the same idempotency key, if the command is
    /// keyed and the twin's result is there (see `CommandService::replay`).
    async fn twin<A: Aggregate>(
        &self,
        keyed: Option<&(&str, String)>,
        id: Uuid,
        stream_id: &str,
    ) -> CommandResult<Option<CommandOutcome<A::Event>>> {
        match keyed {
            Some((key, request_hash)) => self.replay::<A>(key, request_hash, id, stream_id).await,
            None => Ok(None),
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
pub(super) const IDEMPOTENCY_REQUEST_FIELD: &str = "idempotency_request";

/// Envelopes for `(type, schema version, data)` events, the `first`-th event of the command
/// onwards, with the context's metadata; ids derived from the idempotency key if there is one.
fn new_events(
    events: impl Iterator<Item = (&'static str, i32, serde_json::Value)>,
    first: usize,
    ctx: &CommandContext,
    keyed: Option<(&str, &str)>,
) -> Vec<NewEvent> {
    let metadata = ctx.event_metadata();
    events
        .enumerate()
        .map(|(i, (event_type, schema_version, data))| {
            let index = first + i;
            let mut new = NewEvent::new(event_type, schema_version, data, metadata.clone());
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

/// The envelopes of the plan's linked streams' events (with their tags), numbered on from the
/// command's own `own` events.
fn linked_events(
    planned: &Plan,
    own: usize,
    ctx: &CommandContext,
    keyed: Option<(&str, &str)>,
) -> Vec<Vec<NewEvent>> {
    let mut next = own;
    planned
        .linked
        .iter()
        .map(|linked| {
            let mut events = new_events(linked.events.iter().cloned(), next, ctx, keyed);
            for (event, tags) in events.iter_mut().zip(&linked.tags) {
                event.tags.clone_from(tags);
            }
            next += events.len();
            events
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
