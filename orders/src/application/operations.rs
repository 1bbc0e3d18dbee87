//! The operator use cases: projection status, rebuilds, retry and skip of a faulted projection,
//! the relay's status, and retry and skip of the event it faulted on. Admins only (`Capability::Operations`); the acting admin is logged with
//! every change.

use domain::account::Capability;
use domain::requests::SkipEvent;
use domain::views::{ProjectionStatus, RebuildAccepted, RelayStatus};
use eventstore::projection::RebuildStarted;

use crate::application::text::storable;
use crate::application::{AppError, AppResult, Application, ErrorKind, RequestContext};
use crate::relay::RelayCommandError;
use crate::status::projection_status;

/// Longest skip reason, in characters.
const MAX_REASON: usize = 500;

impl Application {
    /// Every projection's status.
    pub fn projections(&self, ctx: &RequestContext) -> AppResult<Vec<ProjectionStatus>> {
        self.allow(ctx, "projections", Capability::Operations)?;
        Ok(self.projection_statuses())
    }

    /// One projection's status.
    pub fn projection(&self, ctx: &RequestContext, name: &str) -> AppResult<ProjectionStatus> {
        self.allow(ctx, "projection", Capability::Operations)?;
        let status = projection_status(self.runner().status_of(name)?);
        Ok(self.console().projection(status))
    }

    /// The relay's status.
    pub fn relay_status(&self, ctx: &RequestContext) -> AppResult<RelayStatus> {
        self.allow(ctx, "relay", Capability::Operations)?;
        Ok(self.relay_statuses())
    }

    /// Starts a rebuild of one projection (a new generation beside the live one).
    pub async fn rebuild(&self, ctx: &RequestContext, name: &str) -> AppResult<RebuildAccepted> {
        let by = self
            .allow(ctx, "rebuild", Capability::Operations)?
            .username
            .as_str();
        let generation = self.runner().rebuild(name).await?;
        tracing::info!(projection = %name, generation, by, "rebuild started");
        Ok(RebuildAccepted {
            projection: name.to_owned(),
            generation,
        })
    }

    /// Starts a rebuild of every projection.
    pub async fn rebuild_all(&self, ctx: &RequestContext) -> AppResult<Vec<RebuildStarted>> {
        let by = self
            .allow(ctx, "rebuild", Capability::Operations)?
            .username
            .as_str();
        let started = self.runner().rebuild_all().await?;
        tracing::info!(
            count = started.len(),
            by,
            "rebuild of every projection started"
        );
        Ok(started)
    }

    /// Retries a faulted projection.
    pub async fn retry(&self, ctx: &RequestContext, name: &str) -> AppResult<ProjectionStatus> {
        let by = self
            .allow(ctx, "retry", Capability::Operations)?
            .username
            .as_str();
        self.runner().retry(name, by).await?;
        tracing::info!(projection = %name, by, "retry requested");
        self.projection(ctx, name)
    }

    /// Skips the event a projection faulted on, with a reason.
    pub async fn skip(
        &self,
        ctx: &RequestContext,
        name: &str,
        input: SkipEvent,
    ) -> AppResult<ProjectionStatus> {
        let by = self
            .allow(ctx, "skip", Capability::Operations)?
            .username
            .as_str();
        let reason = skip_reason(&input)?;
        self.runner().skip(name, reason, by).await?;
        tracing::warn!(projection = %name, reason, by, "faulted event skipped");
        self.projection(ctx, name)
    }

    /// Reads the event the relay faulted on again (after a fixed upcaster is deployed); the
    /// relay faults again if it still cannot read it.
    pub async fn relay_retry(&self, ctx: &RequestContext) -> AppResult<RelayStatus> {
        let by = self
            .allow(ctx, "relay_retry", Capability::Operations)?
            .username
            .as_str();
        self.relay().retry(by).await.map_err(relay_error)?;
        Ok(self.relay_statuses())
    }

    /// Skips the event the relay faulted on, with a reason: it is never published (recorded
    /// with the reason and who in the same transaction that moves the relay past it).
    pub async fn relay_skip(
        &self,
        ctx: &RequestContext,
        input: SkipEvent,
    ) -> AppResult<RelayStatus> {
        let by = self
            .allow(ctx, "relay_skip", Capability::Operations)?
            .username
            .as_str();
        let reason = skip_reason(&input)?;
        self.relay().skip(reason, by).await.map_err(relay_error)?;
        Ok(self.relay_statuses())
    }
}

/// The reason of a skip: storable text of 1 to [`MAX_REASON`] characters.
fn skip_reason(input: &SkipEvent) -> AppResult<&str> {
    let reason = storable(input.reason.trim(), "reason")?;
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(AppError::invalid(
            "invalid_reason",
            format!("Give a reason of 1 to {MAX_REASON} characters."),
        ));
    }
    Ok(reason)
}

fn relay_error(error: RelayCommandError) -> AppError {
    match error {
        RelayCommandError::NotFaulted => AppError::new(
            ErrorKind::Conflict,
            "relay_not_faulted",
            "The relay is not faulted.",
        ),
        RelayCommandError::MissingReason => {
            AppError::invalid("invalid_reason", "Give a reason for skipping the event.")
        }
        RelayCommandError::Store(e) => e.into(),
    }
}
