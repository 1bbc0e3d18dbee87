//! Liveness (`GET /health`: 200 while the process serves requests) and readiness (`GET /ready`:
//! database reachable, migrations applied, the event store can commit writes (and its writer
//! task runs), no projection faulted; 503 with reasons otherwise).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eventstore::projection::ProjectionState;
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
    for p in state.runner.status() {
        if p.state == ProjectionState::Faulted {
            problems.push(format!("projection {} is faulted", p.name));
        }
    }
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "ready": problems.is_empty(), "problems": problems })),
    )
}
