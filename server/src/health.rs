//! Liveness (`GET /health`: 200 while the process serves requests) and readiness (`GET /ready`:
//! database reachable, migrations applied, the event store can commit writes (and its writer
//! task runs), no projection faulted or stalled, the relay not stalled; 503 with reasons
//! otherwise, and each consumer's state and lag as detail).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::views::{ProjectionState, RelayState};
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` (an answer at all is the signal).
    pub status: String,
    pub version: String,
}

/// `GET /ready` (200 when `ready`, else 503 with the same body).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// Why not ready, one sentence each (empty when ready).
    pub problems: Vec<String>,
    pub projections: Vec<ConsumerLag>,
    pub relay: RelayLag,
}

/// A projection's state and lag, as readiness reports it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsumerLag {
    pub name: String,
    pub state: ProjectionState,
    pub lag: i64,
    pub lag_seconds: f64,
}

/// The relay's state and lag, as readiness reports it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RelayLag {
    pub state: RelayState,
    pub lag: i64,
    pub lag_seconds: f64,
}

pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let mut problems = Vec::new();
    let expected = state.db.backend().migrator().iter().count() as i64;
    let applied: Result<i64, sqlx::Error> =
        sqlx::query_scalar("select count(*) from _sqlx_migrations where success = true")
            .fetch_one(state.db.pool())
            .await;
    match applied {
        Ok(n) if n >= expected => {}
        Ok(n) => problems.push(format!("migrations: {n} of {expected} applied")),
        Err(error) => {
            tracing::warn!(%error, "readiness: database check failed");
            problems.push("database unreachable".to_owned());
        }
    }
    // Writes: after a group commit failed for an unavailable database (a session holding the
    // log head lock, a lost connection), not ready until the log head lock can be taken again.
    // Also while the writer task panicked and is not yet restarted (appends answer 503).
    if let Err(error) = state.store.check_writes().await {
        tracing::warn!(%error, "readiness: the event store cannot commit writes");
        if state.store.writer_status().running {
            problems.push("event store cannot commit writes".to_owned());
        } else {
            problems.push("event store writer task died; restarting".to_owned());
        }
    }
    let projections = state.app.projection_statuses();
    for p in &projections {
        match p.state {
            ProjectionState::Faulted => problems.push(format!("projection {} is faulted", p.name)),
            ProjectionState::Stalled => problems.push(format!(
                "projection {} is stalled: {} events and {:.0} s behind, no progress for {} s or more",
                p.name,
                p.lag,
                p.lag_seconds,
                state.app.console().stall_after().as_secs()
            )),
            _ => {}
        }
    }
    let relay = state.app.relay_statuses();
    if relay.state == RelayState::Stalled {
        problems.push(format!(
            "relay is stalled: {} events and {:.0} s behind",
            relay.lag, relay.lag_seconds
        ));
    }
    let detail = projections
        .iter()
        .map(|p| ConsumerLag {
            name: p.name.clone(),
            state: p.state,
            lag: p.lag,
            lag_seconds: p.lag_seconds,
        })
        .collect();
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready: problems.is_empty(),
            problems,
            projections: detail,
            relay: RelayLag {
                state: relay.state,
                lag: relay.lag,
                lag_seconds: relay.lag_seconds,
            },
        }),
    )
}
