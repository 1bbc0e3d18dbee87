//! The handle every query goes through: [`QueryService`] (the database, the projections'
//! progress and the tunables) and the plumbing its queries share. The queries themselves live in
//! one file per read model.

use std::sync::Arc;
use std::time::Duration;

use domain::views::Fresh;
use eventstore::Db;
use uuid::Uuid;

use super::{Progress, QueryError, QueryResult};

/// Default bound on the read-your-writes wait.
pub const DEFAULT_WAIT_BOUND: Duration = Duration::from_secs(2);

/// Tunables of the query service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryConfig {
    /// Longest a query waits for `min_position` before answering stale.
    pub wait_bound: Duration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            wait_bound: DEFAULT_WAIT_BOUND,
        }
    }
}

/// Answers queries from the read models. Cheap to clone.
#[derive(Clone)]
pub struct QueryService {
    pub(super) db: Db,
    pub(super) progress: Arc<dyn Progress>,
    pub(super) config: QueryConfig,
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryService")
            .field("db", &self.db)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl QueryService {
    pub fn new(db: Db, progress: Arc<dyn Progress>) -> Self {
        Self::with_config(db, progress, QueryConfig::default())
    }

    pub fn with_config(db: Db, progress: Arc<dyn Progress>, config: QueryConfig) -> Self {
        Self {
            db,
            progress,
            config,
        }
    }

    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    pub(super) async fn conn(&self) -> QueryResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.db.pool().acquire().await?)
    }
}

/// The one row of a by-id query, or [`QueryError::NotFound`].
pub(super) fn single<T>(
    fresh: Fresh<Vec<T>>,
    entity: &'static str,
    id: Uuid,
) -> QueryResult<Fresh<T>> {
    let Fresh {
        data,
        position,
        stale,
    } = fresh;
    let data = data
        .into_iter()
        .next()
        .ok_or_else(|| QueryError::NotFound {
            entity,
            id: id.to_string(),
        })?;
    Ok(Fresh {
        data,
        position,
        stale,
    })
}

/// Page size of the customer and product lists when the caller gives none.
pub const LIST_DEFAULT_LIMIT: u32 = 50;
/// Largest page of the customer and product lists.
pub const LIST_MAX_LIMIT: u32 = 100;

/// The page size asked for, default [`LIST_DEFAULT_LIMIT`], clamped to `1..=LIST_MAX_LIMIT`.
pub(super) fn page_limit(requested: Option<u32>) -> u32 {
    requested
        .unwrap_or(LIST_DEFAULT_LIMIT)
        .clamp(1, LIST_MAX_LIMIT)
}
