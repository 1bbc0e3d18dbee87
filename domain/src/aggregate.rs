//! The shape shared by every aggregate, so that generic infrastructure (event store, command
//! handlers, snapshots, projections) can drive any of them without knowing its rules.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::DomainError;

/// An event-sourced aggregate: a pure `decide` (command -> events) and a pure `evolve`
/// (state + event -> state). The type itself carries no data; it only names the four types.
pub trait Aggregate {
    /// What `evolve` folds events into; snapshots store it as JSON.
    type State: Default
        + Clone
        + PartialEq
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;
    /// What callers ask the aggregate to do.
    type Command: Clone + std::fmt::Debug + Send + Sync + 'static;
    /// What happened; the only thing stored.
    type Event: DomainEvent;

    /// Prefix of this aggregate's stream ids and the stream type stored with them.
    const STREAM_TYPE: &'static str;
    /// Version of `State`'s serialized shape; bump it to invalidate stored snapshots.
    const SNAPSHOT_VERSION: i32;

    /// Checks `command` against `state` and returns the events it causes, or why not.
    fn decide(
        state: &Self::State,
        command: &Self::Command,
    ) -> Result<Vec<Self::Event>, DomainError>;

    /// Applies one event. Never fails: events are facts that `decide` already accepted.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The stream id of the aggregate instance `id`, e.g. `order-<uuid>` (the form
    /// [`StreamId`](crate::ids::StreamId) displays and parses).
    fn stream_id(id: uuid::Uuid) -> String {
        crate::ids::stream_id_of(Self::STREAM_TYPE, id)
    }
}

/// An event type of some aggregate, with a stable name, a schema version and a JSON payload.
pub trait DomainEvent: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// Stable type name, e.g. `"OrderPlaced"`.
    fn event_type(&self) -> &'static str;
    /// Current schema version of this event type's payload.
    fn schema_version(&self) -> i32;
    /// The payload only (the type name travels separately in the envelope).
    fn to_data(&self) -> serde_json::Value;
    /// Reads a payload of the *current* schema version; older versions must be upcast first
    /// (see `crate::upcast`).
    fn from_data(event_type: &str, data: &serde_json::Value) -> Result<Self, DomainError>;
}

/// The state after `events`, starting from the empty (default) state.
pub fn replay<'a, A: Aggregate>(events: impl IntoIterator<Item = &'a A::Event>) -> A::State {
    replay_from::<A>(A::State::default(), events)
}

/// The state after applying `events` to `state` (e.g. a snapshot plus the stream's tail).
pub fn replay_from<'a, A: Aggregate>(
    state: A::State,
    events: impl IntoIterator<Item = &'a A::Event>,
) -> A::State {
    events.into_iter().fold(state, |s, e| A::evolve(s, e))
}

/// Decides `command` and, if accepted, returns the events together with the new state.
pub fn execute<A: Aggregate>(
    state: &A::State,
    command: &A::Command,
) -> Result<(Vec<A::Event>, A::State), DomainError> {
    let events = A::decide(state, command)?;
    let next = replay_from::<A>(state.clone(), &events);
    Ok((events, next))
}

/// The instance id in a stream id of aggregate `A` (`order-<uuid>` -> `<uuid>`), if it is one,
/// written exactly as [`Aggregate::stream_id`] writes it. For a stream id of any aggregate see
/// [`StreamId::parse`](crate::ids::StreamId::parse).
pub fn parse_stream_id<A: Aggregate>(stream_id: &str) -> Option<uuid::Uuid> {
    crate::ids::uuid_after(A::STREAM_TYPE, stream_id)
}

/// Serializes a payload struct. Serialization of the plain, string-keyed event structs of this
/// crate cannot fail; should a future type break that, `Null` makes `from_data` fail loudly
/// rather than panicking in production.
pub(crate) fn payload<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Deserializes a payload struct, mapping errors to [`DomainError::InvalidEventData`].
pub(crate) fn read_payload<T: DeserializeOwned>(
    event_type: &str,
    data: &serde_json::Value,
) -> Result<T, DomainError> {
    T::deserialize(data).map_err(|e| DomainError::InvalidEventData {
        event_type: event_type.to_owned(),
        reason: e.to_string(),
    })
}
