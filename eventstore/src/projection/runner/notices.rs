//! The cross-instance notices on [`NOTICE_CHANNEL`]: their wire format and the stream list of
//! a batch. Sent by the holder's task (in the batch's transaction) and by operator commands;
//! received by `listener.rs`.
//!
//! [`NOTICE_CHANNEL`]: crate::projection::NOTICE_CHANNEL

use std::collections::HashSet;

use crate::envelope::RecordedEvent;
use crate::projection::Projection;
use crate::projection::status::BatchApplied;

/// Largest `pg_notify` payload sent (PostgreSQL refuses 8000 bytes and more); a batch notice
/// above it goes without its stream list, which receivers read back from the log.
const MAX_NOTICE_BYTES: usize = 7900;

/// What instances tell each other on [`NOTICE_CHANNEL`](crate::projection::NOTICE_CHANNEL).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Notice {
    /// A committed live batch (or a swap) of the holder `instance`. `truncated`: the stream
    /// list was left out to fit the payload; the receiver reads it back from the log.
    Batch {
        instance: String,
        batch: BatchApplied,
        #[serde(default)]
        truncated: bool,
    },
    /// An operator command changed `projection`'s persisted state: its holder reloads.
    Wake {
        instance: String,
        projection: String,
    },
}

/// The payload of a batch notice, at most [`MAX_NOTICE_BYTES`].
pub(super) fn encode_batch_notice(instance: &str, mut batch: BatchApplied) -> Option<String> {
    let notice = Notice::Batch {
        instance: instance.to_owned(),
        batch: batch.clone(),
        truncated: false,
    };
    let payload = serde_json::to_string(&notice).ok()?;
    if payload.len() <= MAX_NOTICE_BYTES {
        return Some(payload);
    }
    batch.streams.clear();
    serde_json::to_string(&Notice::Batch {
        instance: instance.to_owned(),
        batch,
        truncated: true,
    })
    .ok()
}

/// The distinct streams of the events `projection` handles, in first-seen order (empty when it
/// handles none: the batch changed nothing a client could see).
pub(super) fn handled_streams<'a>(
    projection: &dyn Projection,
    events: impl IntoIterator<Item = &'a RecordedEvent>,
) -> Vec<String> {
    let mut seen = HashSet::new();
    events
        .into_iter()
        .filter(|e| projection.handles(e) && seen.insert(e.stream_id.as_str()))
        .map(|e| e.stream_id.clone())
        .collect()
}
