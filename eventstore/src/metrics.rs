//! The event store's metrics, through the `metrics` facade: recorded into whatever recorder the
//! process installed (none installed: nothing is recorded, at the cost of a load and a branch).
//! The host installs the recorder and serves it (the server: `GET /metrics`); it takes the help
//! texts from [`describe`] and the histogram buckets from [`HISTOGRAM_BUCKETS`].
//!
//! Every label is bounded: projection names are `&'static str`, the target is `live` or
//! `rebuild`.

/// Appends per group-commit batch (one transaction, one fsync).
pub const APPEND_BATCH_APPENDS: &str = "eventide_append_batch_appends";
/// Events per group-commit batch.
pub const APPEND_BATCH_EVENTS: &str = "eventide_append_batch_events";
/// Time of one group-commit batch: waiting for the write turn, the transaction, re-runs.
pub const APPEND_BATCH_DURATION: &str = "eventide_append_batch_duration_seconds";
/// Events per projection batch (label `projection`, `target`).
pub const PROJECTION_BATCH_EVENTS: &str = "eventide_projection_batch_events";
/// Time of one projection batch: apply, checkpoint and commit (label `projection`, `target`).
pub const PROJECTION_BATCH_DURATION: &str = "eventide_projection_batch_duration_seconds";
/// Time from an event's append to the commit of the live projection batch that applied it,
/// per batch for its oldest event (label `projection`).
pub const PROJECTION_DELAY: &str = "eventide_projection_delay_seconds";

const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];
const BATCH_SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const DELAY_SECONDS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The buckets of each histogram above (a recorder without them may render summaries).
pub const HISTOGRAM_BUCKETS: &[(&str, &[f64])] = &[
    (APPEND_BATCH_APPENDS, SIZE_BUCKETS),
    (APPEND_BATCH_EVENTS, SIZE_BUCKETS),
    (APPEND_BATCH_DURATION, BATCH_SECONDS),
    (PROJECTION_BATCH_EVENTS, SIZE_BUCKETS),
    (PROJECTION_BATCH_DURATION, BATCH_SECONDS),
    (PROJECTION_DELAY, DELAY_SECONDS),
];

/// Registers the help texts of the metrics above with the installed recorder (call it once,
/// after installing one).
pub fn describe() {
    use metrics::{Unit, describe_histogram};
    describe_histogram!(
        APPEND_BATCH_APPENDS,
        Unit::Count,
        "Appends per group-commit batch (one transaction and one fsync each)."
    );
    describe_histogram!(
        APPEND_BATCH_EVENTS,
        Unit::Count,
        "Events per group-commit batch."
    );
    describe_histogram!(
        APPEND_BATCH_DURATION,
        Unit::Seconds,
        "Time of one group-commit batch: waiting for the write turn, the transaction, re-runs on a fresh connection."
    );
    describe_histogram!(
        PROJECTION_BATCH_EVENTS,
        Unit::Count,
        "Events per projection batch by projection and target (live or rebuild)."
    );
    describe_histogram!(
        PROJECTION_BATCH_DURATION,
        Unit::Seconds,
        "Time of one projection batch (apply, checkpoint, commit) by projection and target (live or rebuild)."
    );
    describe_histogram!(
        PROJECTION_DELAY,
        Unit::Seconds,
        "Time from an event's append to the commit of the live projection batch that applied it (per batch, its oldest event)."
    );
}
