//! The one keyset-paged list query behind the customer, product and user lists (and the one
//! by-id read of those tables): rows of one
//! read-model table in `(key, id)` order, strictly after the cursor, one more than the page
//! size to know whether a next page exists. Never an offset: a page costs the same however deep.

use domain::requests::ListPage;
use domain::views::Fresh;
use eventstore::projection::LIVE_GENERATION;

use uuid::Uuid;

use super::cursor::KeyCursor;
use super::rows::{FromAnyRow, Rows};
use super::service::{page_limit, single};
use super::{QueryResult, QueryService};

/// A list: which table, which columns, which sort key.
pub(super) struct KeysetList {
    /// The projection (`$1`, and the table's freshness).
    pub projection: &'static str,
    /// The cursor tag ([`KeyCursor::encode`]).
    pub tag: &'static str,
    pub table: &'static str,
    pub columns: &'static str,
    /// The text sort key column (e.g. `name`).
    pub key: &'static str,
    /// The id column that breaks ties (e.g. `customer_id`).
    pub id: &'static str,
}

impl QueryService {
    /// One page of `list` and the cursor of the next page (`None` on the last); `cursor_of`
    /// gives a row's sort key.
    pub(super) async fn keyset_page<T: FromAnyRow>(
        &self,
        list: &KeysetList,
        page: &ListPage,
        min_position: Option<i64>,
        cursor_of: impl Fn(&T) -> KeyCursor,
    ) -> QueryResult<Fresh<(Vec<T>, Option<String>)>> {
        let limit = page_limit(page.limit);
        let after = page
            .cursor
            .as_deref()
            .map(|c| KeyCursor::decode(c, list.tag))
            .transpose()?;
        let (position, stale) = self.freshness(list.projection, min_position).await?;
        let KeysetList {
            table,
            columns,
            key,
            id,
            ..
        } = list;
        let sql = format!(
            "select {columns} from {table} where generation = {LIVE_GENERATION} \
             and ($2 is null or {key} > $2 or ({key} = $2 and {id} > $3)) \
             order by {key}, {id} limit $4"
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(list.projection)
            .bind(after.as_ref().map(|c| c.key.clone()))
            .bind(after.as_ref().map(|c| c.id.to_string()))
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *conn)
            .await?;
        let mut items: Vec<T> = Rows::decode(list.projection, &rows)?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| cursor_of(last).encode(list.tag))
        } else {
            None
        };
        Ok(Fresh {
            data: (items, next_cursor),
            position,
            stale,
        })
    }

    /// The one row of `list` with id `id` ([`QueryError::NotFound`] naming `entity` if none).
    ///
    /// [`QueryError::NotFound`]: super::QueryError::NotFound
    pub(super) async fn one_of<T: FromAnyRow>(
        &self,
        list: &KeysetList,
        entity: &'static str,
        id: Uuid,
        min_position: Option<i64>,
    ) -> QueryResult<Fresh<T>> {
        let (position, stale) = self.freshness(list.projection, min_position).await?;
        let sql = format!(
            "select {} from {} where generation = {LIVE_GENERATION} and {} = $2",
            list.columns, list.table, list.id
        );
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&sql)
            .bind(list.projection)
            .bind(id.to_string())
            .fetch_all(&mut *conn)
            .await?;
        let fresh = Fresh {
            data: Rows::decode(list.projection, &rows)?,
            position,
            stale,
        };
        single(fresh, entity, id)
    }
}
