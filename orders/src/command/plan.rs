//! What a command writes besides its own aggregate's events, decided after them and appended
//! with them atomically: events for other streams (each at the version they were decided at),
//! tags on the command's own events, and a consistency-boundary condition.
//!
//! The generic path (`engine.rs`) asks a [`CommandPlan`] once per attempt, after `decide`
//! accepted the command; a conflict on any stream, or a failed condition, runs the whole
//! attempt again (reload, decide, plan) as a moved stream does. Plans: [`NoPlan`] for most
//! commands, `stock.rs` for the order commands that move stock (a multi-stream append),
//! `customers.rs` for a unique customer email (a DCB condition).

use async_trait::async_trait;
use domain::{Aggregate, DomainEvent};
use eventstore::AppendCondition;
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use crate::command::error::CommandResult;
use crate::command::service::CommandService;

/// Events for another stream, decided from its state at `version`.
#[derive(Debug)]
pub(crate) struct Linked {
    pub stream_id: String,
    pub stream_type: &'static str,
    /// The stream's version the events were decided at: the append's expected version.
    pub version: i64,
    /// `(type, schema version, data)` of each event.
    pub events: Vec<(&'static str, i32, serde_json::Value)>,
    /// Tags of the events, by index (missing: none).
    pub tags: Vec<Vec<String>>,
    /// `(snapshot schema version, state after the events)`, for a snapshot when one is due.
    pub snapshot: (i32, serde_json::Value),
    /// The in-process lock of the stream, held until the append is answered.
    pub _guard: Option<OwnedMutexGuard<()>>,
}

impl Linked {
    /// The events of aggregate `B`'s instance `id`, decided at `version` from `state` (the
    /// state before them).
    pub(crate) fn of<B: Aggregate>(
        id: Uuid,
        version: i64,
        state: B::State,
        events: &[B::Event],
        guard: Option<OwnedMutexGuard<()>>,
    ) -> CommandResult<Self> {
        let after = domain::replay_from::<B>(state, events);
        Ok(Self {
            stream_id: B::stream_id(id),
            stream_type: B::STREAM_TYPE,
            version,
            events: events
                .iter()
                .map(|e| (e.event_type(), e.schema_version(), e.to_data()))
                .collect(),
            tags: Vec::new(),
            snapshot: (
                B::SNAPSHOT_VERSION,
                serde_json::to_value(&after).map_err(eventstore::StoreError::from)?,
            ),
            _guard: guard,
        })
    }
}

/// What one attempt of a command appends besides its own events.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub linked: Vec<Linked>,
    /// Tags of the command's own events, by index (missing: none).
    pub tags: Vec<Vec<String>>,
    pub condition: Option<AppendCondition>,
}

/// Decides a command's [`Plan`] from its aggregate's state before the command and the events
/// `decide` gave. A refusal (e.g. not enough stock) refuses the command; nothing is written.
#[async_trait]
pub(crate) trait CommandPlan<A: Aggregate>: Send + Sync {
    async fn plan(
        &self,
        service: &CommandService,
        id: Uuid,
        state: &A::State,
        events: &[A::Event],
    ) -> CommandResult<Plan>;
}

/// Nothing besides the command's own events.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoPlan;

#[async_trait]
impl<A: Aggregate> CommandPlan<A> for NoPlan {
    async fn plan(
        &self,
        _: &CommandService,
        _: Uuid,
        _: &A::State,
        _: &[A::Event],
    ) -> CommandResult<Plan> {
        Ok(Plan::default())
    }
}
