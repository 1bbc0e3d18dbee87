//! Loading an aggregate: its latest snapshot (of the wanted schema version) plus the events
//! after it, converted with `DomainEvent::from_data` after the store's upcasting.

use anyhow::Context as _;
use domain::{Aggregate, DomainEvent as _};
use eventstore::{EventStore, RecordedEvent, Snapshot};
use tracing::{debug, warn};
use uuid::Uuid;

use crate::command::error::CommandResult;

/// Events per `read_stream` call while loading.
const READ_PAGE: u32 = 500;

/// What a load did: for tests, logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// The stream version of the snapshot the load started from (`None`: no usable snapshot,
    /// e.g. none yet, or one of another schema version).
    pub snapshot_version: Option<i64>,
    /// How many events were read from the store after the snapshot.
    pub events_read: u64,
    /// Whether the load wrote a new snapshot (it read at least `snapshot_every` events).
    pub snapshot_written: bool,
}

/// An aggregate's current state and version.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<S> {
    /// The aggregate id.
    pub id: Uuid,
    /// Its stream id, e.g. `order-<uuid>`.
    pub stream_id: String,
    /// The state after every stored event (the default state if the stream does not exist).
    pub state: S,
    /// The stream version the state includes (0: no such stream).
    pub version: i64,
    /// How the state was obtained.
    pub stats: LoadStats,
}

impl<S> Loaded<S> {
    /// Whether the stream has any event.
    pub fn exists(&self) -> bool {
        self.version > 0
    }
}

/// Loads aggregate `A` with id `id`: the snapshot of `snapshot_version` if there is one, then
/// the later events. If at least `snapshot_every` events had to be read (no snapshot, an
/// outdated one, or events appended around the service), a fresh snapshot is written, best
/// effort. `snapshot_every == 0` disables snapshot writing.
pub async fn load_aggregate<A: Aggregate>(
    store: &dyn EventStore,
    id: Uuid,
    snapshot_version: i32,
    snapshot_every: u64,
) -> CommandResult<Loaded<A::State>> {
    let stream_id = A::stream_id(id);
    let mut stats = LoadStats::default();
    let (mut state, mut version) = match store.load_snapshot(&stream_id, snapshot_version).await? {
        Some(snapshot) => match serde_json::from_value::<A::State>(snapshot.state) {
            Ok(state) => {
                stats.snapshot_version = Some(snapshot.version);
                (state, snapshot.version)
            }
            Err(e) => {
                // Same schema version but unreadable: treat as absent, it gets rewritten.
                warn!(stream = %stream_id, error = %e, "ignoring unreadable snapshot");
                (A::State::default(), 0)
            }
        },
        None => (A::State::default(), 0),
    };

    loop {
        let page = store
            .read_stream(&stream_id, version + 1, READ_PAGE)
            .await?;
        let count = page.len();
        for recorded in &page {
            let event = to_domain_event::<A>(recorded)?;
            state = A::evolve(state, &event);
            version = recorded.version;
        }
        stats.events_read += count as u64;
        if count < READ_PAGE as usize {
            break;
        }
    }

    if snapshot_every > 0 && version > 0 && stats.events_read >= snapshot_every {
        stats.snapshot_written =
            save_snapshot::<A>(store, &stream_id, version, snapshot_version, &state).await;
    }
    debug!(
        stream = %stream_id,
        version,
        snapshot = ?stats.snapshot_version,
        events_read = stats.events_read,
        "aggregate loaded"
    );
    Ok(Loaded {
        id,
        stream_id,
        state,
        version,
        stats,
    })
}

/// Converts a stored (already upcast) event into the aggregate's event type.
pub fn to_domain_event<A: Aggregate>(recorded: &RecordedEvent) -> CommandResult<A::Event> {
    Ok(A::Event::from_data(&recorded.event_type, &recorded.data)?)
}

/// Writes a snapshot of `state` at `version`; failures are logged, not returned (a missing
/// snapshot only costs reading time). Returns whether it was written.
pub(crate) async fn save_snapshot<A: Aggregate>(
    store: &dyn EventStore,
    stream_id: &str,
    version: i64,
    schema_version: i32,
    state: &A::State,
) -> bool {
    match serde_json::to_value(state).context("serializing the snapshot state") {
        Ok(state) => save_snapshot_value(store, stream_id, version, schema_version, state).await,
        Err(e) => {
            warn!(stream = %stream_id, error = %format!("{e:#}"), "snapshot not written");
            false
        }
    }
}

/// [`save_snapshot`] of a state already serialized (a linked stream's, see `plan.rs`).
pub(crate) async fn save_snapshot_value(
    store: &dyn EventStore,
    stream_id: &str,
    version: i64,
    schema_version: i32,
    state: serde_json::Value,
) -> bool {
    let snapshot = Snapshot {
        stream_id: stream_id.to_owned(),
        version,
        schema_version,
        state,
    };
    match store.save_snapshot(&snapshot).await {
        Ok(()) => {
            debug!(stream = %stream_id, version, schema_version, "snapshot written");
            true
        }
        Err(e) => {
            warn!(stream = %stream_id, error = %e, "snapshot not written");
            false
        }
    }
}
