//! SQL of queries by event type and tag ([`EventQuery`], the Dynamic Consistency Boundary):
//! `read_query` and the condition check of conditional appends. Both backends take the same
//! text; only the placeholders differ ([`Placeholders`]).
//!
//! Each item of a query becomes one `select position ...` and the items are joined with
//! `union all` (an event matching two items is listed twice; both uses tolerate it: `in (..)`
//! and `min(..)`). An item with tags is answered from the `event_tags` index (tag, position):
//! `tag in (..) and position > $after group by position having count(*) = <distinct tags>`
//! keeps the events carrying every tag; its types, if any, are checked by joining `events` on
//! the primary key. An item with types only uses `events_type_idx` (event_type, position).
//! Every item is cut to what its use needs (`order by position limit ..`): one position for a
//! condition check (the index scan stops at the first match), one page for `read_query`.

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use crate::envelope::{EventQuery, QueryItem};
use crate::error::{StoreError, StoreResult};
use crate::placeholders::Placeholders;
use crate::sql::Dialect;

/// Most terms (items, types and tags together) of one query: keeps every statement far below
/// the bound-parameter limits and SQLite's 500 terms of a compound select.
pub(crate) const MAX_QUERY_TERMS: usize = 500;

/// Bound parameters per condition-check statement (conditions of one batch share statements).
pub(crate) const MAX_STATEMENT_PARAMS: usize = 30_000;

/// One bound value of a built statement, in bind order.
pub(crate) enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// Binds `params` in order.
pub(crate) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    params: &[Param<'q>],
) -> Query<'q, Any, AnyArguments<'q>> {
    for param in params {
        query = match param {
            Param::Text(s) => query.bind(*s),
            Param::Int(n) => query.bind(*n),
        };
    }
    query
}

/// The terms of `query` (what [`MAX_QUERY_TERMS`] bounds).
pub(crate) fn terms(query: &EventQuery) -> usize {
    query
        .items
        .iter()
        .map(|item| 1 + item.types.len() + item.tags.len())
        .sum()
}

/// Refuses a query too large for one statement.
pub(crate) fn check_size(query: &EventQuery) -> StoreResult<()> {
    let terms = terms(query);
    if terms > MAX_QUERY_TERMS {
        return Err(StoreError::QueryTooLarge {
            terms,
            max: MAX_QUERY_TERMS,
        });
    }
    Ok(())
}

/// Parameters the first-match check of `query` binds.
pub(crate) fn params_of(query: &EventQuery) -> usize {
    terms(query)
}

/// How many positions each item of a query may contribute (its index scan stops there).
#[derive(Clone, Copy)]
enum ItemLimit {
    /// The first match only: a condition check needs the lowest position.
    First,
    /// A page of `read_query` (bound, so one statement text serves every page size).
    Page(i64),
}

/// `select position from (<item> order by 1 limit ..) i0 union all ...`: the positions after
/// `after` of the events matching `query` (at least one item), each item cut to `limit` so that
/// its index scan stops early (a page never needs more than `limit` positions of any item).
fn positions<'a>(
    p: &mut Placeholders,
    query: &'a EventQuery,
    after: i64,
    limit: ItemLimit,
    params: &mut Vec<Param<'a>>,
) -> String {
    query
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let positions = item_positions(p, item, after, params);
            let limit = match limit {
                ItemLimit::First => "1".to_owned(),
                ItemLimit::Page(n) => {
                    params.push(Param::Int(n));
                    p.param()
                }
            };
            format!("select position from ({positions} order by 1 limit {limit}) i{i}")
        })
        .collect::<Vec<_>>()
        .join(" union all ")
}

fn item_positions<'a>(
    p: &mut Placeholders,
    item: &'a QueryItem,
    after: i64,
    params: &mut Vec<Param<'a>>,
) -> String {
    let mut tags: Vec<&str> = item.tags.iter().map(String::as_str).collect();
    tags.sort_unstable();
    tags.dedup();
    if tags.is_empty() {
        let mut sql = "select position from events where ".to_owned();
        if !item.types.is_empty() {
            sql.push_str(&format!(
                "event_type in ({}) and ",
                p.list(item.types.len())
            ));
            params.extend(item.types.iter().map(|t| Param::Text(t.as_str())));
        }
        sql.push_str(&format!("position > {}", p.param()));
        params.push(Param::Int(after));
        return sql;
    }
    let (from, column) = if item.types.is_empty() {
        ("event_tags t", "t.position")
    } else {
        (
            "event_tags t join events e on e.position = t.position",
            "t.position",
        )
    };
    let mut sql = format!("select {column} from {from} where ");
    if let [tag] = tags.as_slice() {
        sql.push_str(&format!("t.tag = {}", p.param()));
        params.push(Param::Text(tag));
    } else {
        sql.push_str(&format!("t.tag in ({})", p.list(tags.len())));
        params.extend(tags.iter().map(|t| Param::Text(t)));
    }
    sql.push_str(&format!(" and t.position > {}", p.param()));
    params.push(Param::Int(after));
    if !item.types.is_empty() {
        sql.push_str(&format!(
            " and e.event_type in ({})",
            p.list(item.types.len())
        ));
        params.extend(item.types.iter().map(|t| Param::Text(t.as_str())));
    }
    if tags.len() > 1 {
        sql.push_str(&format!(
            " group by t.position having count(*) = {}",
            tags.len()
        ));
    }
    sql
}

/// `read_query`: the matching events after `after`, in position order, at most `limit`.
/// `query` has at least one item.
pub(crate) fn read_query<'a>(
    dialect: &Dialect,
    query: &'a EventQuery,
    after: i64,
    limit: u32,
) -> (String, Vec<Param<'a>>) {
    let mut p = Placeholders::new(dialect.backend);
    let mut params = Vec::with_capacity(params_of(query) + query.items.len() + 1);
    let limit = i64::from(limit);
    let positions = positions(&mut p, query, after, ItemLimit::Page(limit), &mut params);
    let sql = format!(
        "{} where position in ({positions}) order by position limit {}",
        dialect.select_events,
        p.param()
    );
    params.push(Param::Int(limit));
    (sql, params)
}

/// One row, one column per condition: the first position after the condition's `after` of an
/// event matching its query (null when none). Every query has at least one item.
pub(crate) fn first_matches<'a>(
    dialect: &Dialect,
    conditions: &[(&'a EventQuery, i64)],
) -> (String, Vec<Param<'a>>) {
    let mut p = Placeholders::new(dialect.backend);
    let mut params = Vec::new();
    let columns: Vec<String> = conditions
        .iter()
        .map(|(query, after)| {
            format!(
                "(select min(position) from ({}) q)",
                positions(&mut p, query, *after, ItemLimit::First, &mut params)
            )
        })
        .collect();
    (format!("select {}", columns.join(", ")), params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Backend;

    #[test]
    fn items_become_a_union_of_index_scans() {
        let query = EventQuery::new([
            QueryItem::tags(["b", "a", "b"]),
            QueryItem::types(["X"]).with_tags(["c"]),
            QueryItem::types(["Y", "Z"]),
            QueryItem::default(),
        ]);
        let (sql, params) = first_matches(Backend::Postgres.dialect(), &[(&query, 7)]);
        assert_eq!(
            sql,
            "select (select min(position) from (\
             select position from (select t.position from event_tags t \
             where t.tag in ($1, $2) and t.position > $3 \
             group by t.position having count(*) = 2 order by 1 limit 1) i0 union all \
             select position from (select t.position from event_tags t \
             join events e on e.position = t.position \
             where t.tag = $4 and t.position > $5 and e.event_type in ($6) \
             order by 1 limit 1) i1 union all \
             select position from (select position from events \
             where event_type in ($7, $8) and position > $9 order by 1 limit 1) i2 union all \
             select position from (select position from events \
             where position > $10 order by 1 limit 1) i3) q)"
        );
        assert_eq!(params.len(), 10);
        let (sql, params) = read_query(Backend::Sqlite.dialect(), &query, 7, 20);
        assert!(sql.ends_with("order by 1 limit ?) i3) order by position limit ?"));
        assert_eq!(params.len(), 15);
    }
}
