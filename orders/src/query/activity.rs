//! Queries of the `activity` read model (`rm_activity`): the feed of recent events as sentences.

use domain::views::{ActivityEntry, Fresh};
use eventstore::projection::LIVE_GENERATION;
use tracing::instrument;

use super::rows::Rows;
use super::{QueryResult, QueryService};
use crate::projections::{ACTIVITY, ACTIVITY_KEEP};

impl QueryService {
    /// The activity feed, newest first (at most `limit`, default and max 100).
    #[instrument(name = "query.activity", skip(self), err)]
    pub async fn activity(
        &self,
        limit: Option<u32>,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<Vec<ActivityEntry>>> {
        let limit = limit
            .map_or(ACTIVITY_KEEP, i64::from)
            .clamp(1, ACTIVITY_KEEP);
        let (position, stale) = self.freshness(ACTIVITY, min_position).await?;
        let sql = format!(
            "select position, event_id, stream_id, event_type, text, at_us from rm_activity \
             where generation = {LIVE_GENERATION} order by position desc limit $2"
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(ACTIVITY)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
        Ok(Fresh {
            data: Rows::decode(ACTIVITY, &rows)?,
            position,
            stale,
        })
    }
}
