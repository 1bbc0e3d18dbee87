//! The operator use cases: projection status, rebuilds, retry and skip of a faulted projection,
//! the relay's status. Who may call them is checked by the caller (the admin credential) until
//! accounts and roles exist.

use domain::requests::SkipEvent;
use domain::views::{ProjectionStatus, RebuildAccepted, RelayStatus};
use eventstore::projection::RebuildStarted;

use crate::application::text::storable;
use crate::application::{AppError, AppResult, Application};
use crate::status::projection_status;

/// Longest skip reason, in characters.
const MAX_REASON: usize = 500;

impl Application {
    /// Every projection's status.
    pub fn projections(&self) -> Vec<ProjectionStatus> {
        self.runner()
            .status()
            .into_iter()
            .map(projection_status)
            .collect()
    }

    /// One projection's status.
    pub fn projection(&self, name: &str) -> AppResult<ProjectionStatus> {
        Ok(projection_status(self.runner().status_of(name)?))
    }

    /// The relay's status.
    pub fn relay_status(&self) -> RelayStatus {
        self.relay().status()
    }

    /// Starts a rebuild of one projection (a new generation beside the live one).
    pub async fn rebuild(&self, name: &str, by: &str) -> AppResult<RebuildAccepted> {
        let generation = self.runner().rebuild(name).await?;
        tracing::info!(projection = %name, generation, by, "rebuild started");
        Ok(RebuildAccepted {
            projection: name.to_owned(),
            generation,
        })
    }

    /// Starts a rebuild of every projection.
    pub async fn rebuild_all(&self, by: &str) -> AppResult<Vec<RebuildStarted>> {
        let started = self.runner().rebuild_all().await?;
        tracing::info!(
            count = started.len(),
            by,
            "rebuild of every projection started"
        );
        Ok(started)
    }

    /// Retries a faulted projection.
    pub async fn retry(&self, name: &str, by: &str) -> AppResult<ProjectionStatus> {
        self.runner().retry(name).await?;
        tracing::info!(projection = %name, by, "retry requested");
        self.projection(name)
    }

    /// Skips the event a projection faulted on, with a reason.
    pub async fn skip(
        &self,
        name: &str,
        input: SkipEvent,
        by: &str,
    ) -> AppResult<ProjectionStatus> {
        let reason = storable(input.reason.trim(), "reason")?;
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(AppError::invalid(
                "invalid_reason",
                format!("Give a reason of 1 to {MAX_REASON} characters."),
            ));
        }
        self.runner().skip(name, reason, by).await?;
        tracing::warn!(projection = %name, reason, by, "faulted event skipped");
        self.projection(name)
    }
}
