//! Read-your-writes: how fresh an answer is. [`Progress`] reports how far each projection has
//! applied the log (the projection runner implements it; tests may stub it), and
//! [`QueryService::freshness`] waits, bounded, for the position a caller asks for before a query
//! reads its rows.

use std::time::Duration;

use async_trait::async_trait;

use super::{QueryError, QueryResult, QueryService};

/// How far projections are: implemented for the projection runner; tests may stub it.
#[async_trait]
pub trait Progress: Send + Sync + 'static {
    /// The position the live generation of `projection` has applied up to.
    async fn checkpoint(&self, projection: &str) -> anyhow::Result<i64>;
    /// Waits until the live generation of `projection` reached `position`, at most `timeout`.
    /// Returns whether it did.
    async fn wait_for(
        &self,
        projection: &str,
        position: i64,
        timeout: Duration,
    ) -> anyhow::Result<bool>;
}

impl QueryService {
    /// Waits for `min_position` (bounded), then reads the checkpoint the answer is at least as
    /// fresh as. The checkpoint is read BEFORE the data, so `position` is a lower bound.
    /// Returns `(position, stale)`.
    pub(super) async fn freshness(
        &self,
        projection: &'static str,
        min_position: Option<i64>,
    ) -> QueryResult<(i64, bool)> {
        if let Some(min) = min_position {
            self.progress
                .wait_for(projection, min, self.config.wait_bound)
                .await
                .map_err(QueryError::Progress)?;
        }
        let position = self
            .progress
            .checkpoint(projection)
            .await
            .map_err(QueryError::Progress)?;
        let stale = min_position.is_some_and(|min| position < min);
        Ok((position, stale))
    }
}

#[async_trait]
impl Progress for eventstore::projection::ProjectionRunner {
    async fn checkpoint(&self, projection: &str) -> anyhow::Result<i64> {
        Ok(eventstore::projection::ProjectionRunner::checkpoint(
            self, projection,
        )?)
    }

    async fn wait_for(
        &self,
        projection: &str,
        position: i64,
        timeout: Duration,
    ) -> anyhow::Result<bool> {
        Ok(
            eventstore::projection::ProjectionRunner::wait_for(self, projection, position, timeout)
                .await?,
        )
    }
}
