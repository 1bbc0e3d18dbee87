//! Liveness (`GET /health`: 200 while the process serves requests) and readiness (`GET /ready`:
//! database reachable, migrations applied, the event store can commit writes (and its writer
//! task runs), no projection faulted or stalled, the relay not stalled; 503 with reasons
//! otherwise, and each consumer's state and lag as detail).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::views::{ProjectionState, RelayState};
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
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
    let detail: Vec<Value> = projections
        .iter()
        .map(|p| json!({ "name": p.name, "state": p.state, "lag": p.lag, "lag_seconds": p.lag_seconds }))
        .collect();
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": problems.is_empty(),
            "problems": problems,
            "projections": detail,
            "relay": { "state": relay.state, "lag": relay.lag, "lag_seconds": relay.lag_seconds },
        })),
    )
}
