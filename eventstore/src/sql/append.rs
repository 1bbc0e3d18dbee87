//! The writer's two combined statements: one that opens a batch (takes the positions, reads the
//! previous row's hash and the touched streams' versions) and one that writes it (events, tags,
//! streams and, on PostgreSQL, the wake-up of other processes).
//!
//! Why combined: a single append used to cost seven round trips on PostgreSQL (begin, counter,
//! versions, events, streams, notify, commit) and six on SQLite, where each statement is a hop
//! to sqlx's worker thread. Counter and versions have to be read before the rows are built (the
//! hash chain links each row to the previous one in Rust), and the rows written before the
//! commit; so four is the least: begin, open, write, commit. PostgreSQL gets one statement per
//! step (data-modifying CTEs); SQLite, which has none, gets one multi-statement string per step
//! (sqlx runs all of its statements in one call to the worker, plain `?` parameters continuing
//! in bind order from one statement to the next).

use super::Dialect;
use crate::db::Backend;
use crate::placeholders::Placeholders;

/// Opens a batch that takes `n` positions and touches `streams` (at least one) streams.
///
/// PostgreSQL, one row per stream found (one row with null stream columns when none is):
/// `(last position, hash of the row at the old head, whether that row is visible, stream_id,
/// version)`; binds `n`, `n`, then the stream ids. The counter update runs first (the stream rows
/// are read in a lateral subquery that depends on it), so the lock order stays counter, then
/// streams. The stream rows are locked (`for update`) and, like the old head's row, read with
/// the statement's snapshot: if this update waited for another session's commit, the old head's
/// row is not visible, and the caller reads both again in statements of their own.
///
/// SQLite: two statements, the counter's `(last position, hash)` row first, then one
/// `(stream_id, version)` row per stream found; binds `n`, `n`, then the stream ids. The writer
/// holds the write lock from `begin immediate`: no snapshot can be stale.
pub(crate) fn open_batch(dialect: &Dialect, streams: usize) -> String {
    let mut p = Placeholders::new(dialect.backend);
    let (n, n_again) = (p.param(), p.param());
    let ids = p.list(streams);
    match dialect.backend {
        Backend::Postgres => format!(
            "with h as (update log_head set position = position + {n} where id = 1 \
             returning position), \
             p as (select h.position, e.hash, e.position is not null as seen from h \
             left join events e on e.position = h.position - {n_again}) \
             select p.position, p.hash, p.seen, s.stream_id, s.version from p \
             left join lateral (select stream_id, version from streams \
             where stream_id in ({ids}) and p.position is not null for update) s on true"
        ),
        Backend::Sqlite => format!(
            "update log_head set position = position + {n} where id = 1 \
             returning position, (select hash from events where position = log_head.position - {n_again}); \
             select stream_id, version from streams where stream_id in ({ids})"
        ),
    }
}

/// Rows of each kind that [`write_batch`] takes in one statement; a bigger batch is written in
/// chunks by separate statements.
pub(crate) const WRITE_MAX_EVENTS: usize = super::INSERT_CHUNK_ROWS;
pub(crate) const WRITE_MAX_TAGS: usize = super::TAG_CHUNK_ROWS;
pub(crate) const WRITE_MAX_STREAMS: usize = super::INSERT_CHUNK_ROWS;

/// Writes a batch in one statement: `events` event rows (at least one; the 14 columns of
/// [`super::insert_events`] each), `tags` rows of the tag index (tag, position), `streams`
/// stream upserts (the 5 columns of [`super::upsert_streams`]) and, with `notify` on PostgreSQL,
/// `pg_notify` of the new head (one more text parameter, delivered at commit). Parameters in
/// that order.
pub(crate) fn write_batch(
    dialect: &Dialect,
    events: usize,
    tags: usize,
    streams: usize,
    notify: bool,
) -> String {
    let mut p = Placeholders::new(dialect.backend);
    let events_sql = super::insert_events_with(dialect, events, &mut p);
    let tags_sql = (tags > 0).then(|| super::insert_tags_with(tags, &mut p));
    let streams_sql = (streams > 0).then(|| super::upsert_streams_with(streams, &mut p));
    match dialect.backend {
        Backend::Postgres => {
            let mut sql = format!("with e as ({events_sql})");
            if let Some(tags_sql) = tags_sql {
                sql.push_str(&format!(", t as ({tags_sql})"));
            }
            if let Some(streams_sql) = streams_sql {
                sql.push_str(&format!(", s as ({streams_sql})"));
            }
            if notify {
                let head = p.param();
                sql.push_str(&format!(
                    " select 1::bigint from pg_notify('{}', {head})",
                    crate::sql_store::NOTIFY_CHANNEL
                ));
            } else {
                sql.push_str(" select 1::bigint");
            }
            sql
        }
        Backend::Sqlite => {
            let mut sql = events_sql;
            for part in [tags_sql, streams_sql].into_iter().flatten() {
                sql.push_str("; ");
                sql.push_str(&part);
            }
            sql
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_numbers_every_part_in_bind_order() {
        let sql = write_batch(&super::super::postgres::DIALECT, 1, 1, 1, true);
        // 14 event columns, 2 tag columns, 5 stream columns, the notify payload.
        assert!(sql.contains("$14"), "{sql}");
        assert!(sql.contains("($15, $16)"), "{sql}");
        assert!(sql.contains("($17, $18, $19, $20, $21)"), "{sql}");
        assert!(sql.ends_with("pg_notify('eventide_events', $22)"), "{sql}");
        assert!(!sql.contains("$23"));
        let open = open_batch(&super::super::postgres::DIALECT, 2);
        assert!(open.contains("in ($3, $4)"), "{open}");
    }

    #[test]
    fn sqlite_is_one_string_of_statements_with_plain_parameters() {
        let sql = write_batch(&super::super::sqlite::DIALECT, 2, 0, 1, true);
        assert_eq!(sql.matches("; ").count(), 1, "{sql}");
        assert_eq!(sql.matches('?').count(), 2 * 14 + 5, "{sql}");
        assert!(!sql.contains("pg_notify"));
        let open = open_batch(&super::super::sqlite::DIALECT, 3);
        assert_eq!(open.matches('?').count(), 2 + 3, "{open}");
    }
}
