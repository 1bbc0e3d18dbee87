//! Idempotent replays: the stored outcome of a key that was used already, from its row in
//! `idempotency_keys` or, when the row is missing (a crash or a racing twin between the append
//! and the row), from the events whose ids derive from the key.

use domain::Aggregate;
use eventstore::EventStore;
use uuid::Uuid;

use crate::command::engine::IDEMPOTENCY_REQUEST_FIELD;
use crate::command::error::{CommandError, CommandResult};
use crate::command::idempotency::{self, IdempotencyRecord};
use crate::command::loader::to_domain_event;
use crate::command::service::{CommandOutcome, CommandService};

impl CommandService {
    /// The stored outcome of idempotency key `key`, if it was used already: from its row, or
    /// (a crash or a racing twin between append and row) from the events carrying the ids
    /// derived from the key. A different request under the same key is rejected.
    pub(super) async fn replay<A: Aggregate>(
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
}
