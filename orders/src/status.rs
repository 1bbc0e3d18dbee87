//! Operator status in the shared view shapes: what the REST API, the websockets and the admin
//! panel show about the projections.

use domain::views::{ProjectionFault, ProjectionState, ProjectionStatus, RebuildProgress};
use eventstore::projection::ProjectionStatusInfo;

/// The runner's status as the shared view type.
pub fn projection_status(info: ProjectionStatusInfo) -> ProjectionStatus {
    ProjectionStatus {
        name: info.name,
        state: match info.state {
            eventstore::projection::ProjectionState::Running => ProjectionState::Running,
            eventstore::projection::ProjectionState::CatchingUp => ProjectionState::CatchingUp,
            eventstore::projection::ProjectionState::Rebuilding => ProjectionState::Rebuilding,
            eventstore::projection::ProjectionState::Faulted => ProjectionState::Faulted,
            eventstore::projection::ProjectionState::Stopped => ProjectionState::Stopped,
            eventstore::projection::ProjectionState::Standby => ProjectionState::Standby,
        },
        generation: info.generation,
        checkpoint: info.checkpoint,
        head: info.head,
        lag: info.lag,
        events_per_sec: info.events_per_sec,
        last_error: info.last_error,
        fault: info.fault.map(|f| ProjectionFault {
            event_id: f.event_id,
            position: f.position,
            event_type: f.event_type,
            error: f.error,
            attempts: u32::try_from(f.attempts).unwrap_or(u32::MAX),
            failed_at: f.failed_at,
        }),
        rebuild: info.rebuild.map(|r| RebuildProgress {
            generation: r.generation,
            processed: r.processed,
            total: r.total,
            events_per_sec: r.events_per_sec,
            eta_secs: r.eta_secs,
        }),
        instance: info.instance,
        lag_seconds: 0.0,
        lag_trend: Vec::new(),
    }
}
