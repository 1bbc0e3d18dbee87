//! The one keyset-paged list query behind the customer, product and user lists: rows of one
//! read-model table in `(key, id)` order, strictly after the cursor, one more than the page
//! size to know whether a next page exists. Never an offset: a page costs the same however deep.

use domain::requests::ListPage;
use domain::views::Fresh;
use eventstore::projection::LIVE_GENERATION;

use super::cursor::KeyCursor;
use super::rows::{FromAnyRow, Rows};
use super::service::page_limit;
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
}
