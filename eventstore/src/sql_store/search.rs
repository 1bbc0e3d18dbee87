//! The operator's search of the whole log ([`LogSearch`]): by event type, stream type, stream id
//! (prefix, or the short id lists show: its last characters), acting user, correlation id and
//! time range, newest or oldest first, keyset-paged by position (never an offset).
//!
//! Each filter but the stream has an index that ends with the position
//! (`migrations/*/0012_log_search.sql`), so a page is an index range walked in order and cut
//! after `limit` rows. A stream filter naming up to [`MAX_MATCHED_STREAMS`] streams reads them
//! through `(stream_id, version)` and sorts their events; a broader prefix walks the log in
//! position order (the matching streams are then common enough to fill a page soon). Events are returned as
//! stored, without upcasting: the browser shows what is in the log, and one event no upcaster
//! can read does not hide a page.
//!
//! A time range is also turned into a position range through `events_recorded_at_idx`, so a
//! range in the past does not walk every newer row. Positions and timestamps rise together
//! (both are taken by the writer per batch); the position bounds are widened by
//! [`CLOCK_SLACK_US`] for clocks that step back or instances whose clocks differ a little (the
//! exact time filter still applies to every row; the slack is small because every event inside
//! it is read and dropped: at 10,000 events/s, 60 s of slack made a 1 s window cost 190 ms).
//!
//! A stream filter is resolved against the `streams` table first (one row per stream): a prefix
//! is a range of its primary key with both ends bound (`[prefix, prefix+1)`), a short id (the
//! last 8 characters of the id, as lists show them) an index on that tail
//! (`streams_short_id_idx`).

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use uuid::Uuid;

use super::SqlEventStore;
use super::reads::{decode_event, read_retrying, timestamp};
use crate::envelope::RecordedEvent;
use crate::error::StoreResult;
use crate::placeholders::Placeholders;
use crate::sql::query::{Param, bind_all};

/// How far two events' timestamps may disagree with their positions' order (clock steps,
/// instances' clocks): the position bounds of a time range are widened by this much.
pub const CLOCK_SLACK_US: i64 = 2_000_000;

/// Streams a stream filter may resolve to before it falls back to a prefix range of the log.
pub const MAX_MATCHED_STREAMS: usize = 1_000;

/// A search of the whole log. Every filter is optional; all given filters must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSearch {
    pub event_type: Option<String>,
    pub stream_type: Option<String>,
    /// A stream id, its prefix, or its last characters (the short id lists show).
    pub stream: Option<String>,
    /// The acting user (`metadata.user_id`).
    pub user_id: Option<String>,
    pub correlation_id: Option<Uuid>,
    /// The short id of a correlation id (its last 8 hex digits, as lists show it).
    pub correlation_tail: Option<String>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub to: Option<DateTime<Utc>>,
    /// Newest first (default) or oldest first.
    pub oldest_first: bool,
    /// Position of the last event of the previous page (exclusive).
    pub after: Option<i64>,
    /// Events per page (at least 1).
    pub limit: u32,
}

/// Which streams a stream filter names.
enum StreamMatch {
    /// None: the page is empty.
    Nothing,
    /// Exactly these (few) streams.
    Ids(Vec<String>),
    /// Too many to list: every stream whose id starts with the text.
    Prefix(String),
}

impl SqlEventStore {
    /// One page of [`LogSearch`], in the asked order.
    pub async fn search_log(&self, search: &LogSearch) -> StoreResult<Vec<RecordedEvent>> {
        let streams = match &search.stream {
            Some(text) => Some(self.match_streams(text).await?),
            None => None,
        };
        if matches!(streams, Some(StreamMatch::Nothing)) {
            return Ok(Vec::new());
        }
        let bounds = self.time_bounds(search.from, search.to).await?;
        let Some((first, last)) = bounds else {
            return Ok(Vec::new());
        };
        let r = &self.inner.reader;
        let mut ph = Placeholders::new(r.db.backend());
        let mut params: Vec<Param<'_>> = Vec::new();
        let mut conditions: Vec<String> = Vec::new();
        if let Some(t) = &search.event_type {
            conditions.push(condition("event_type = ?", &mut ph));
            params.push(Param::Text(t));
        }
        if let Some(t) = &search.stream_type {
            conditions.push(condition("stream_type = ?", &mut ph));
            params.push(Param::Text(t));
        }
        match &streams {
            Some(StreamMatch::Ids(ids)) => {
                let list: Vec<String> = ids.iter().map(|_| ph.param()).collect();
                conditions.push(format!("stream_id in ({})", list.join(", ")));
                params.extend(ids.iter().map(|id| Param::Text(id)));
            }
            Some(StreamMatch::Prefix(prefix)) => {
                // More than MAX_MATCHED_STREAMS streams match: at least that many of the log's
                // streams, so walking the log in position order finds a page soon. A range of
                // the (stream_id, version) index here would read and sort every matching row.
                let (a, b) = (ph.param(), ph.param());
                conditions.push(format!("substr(stream_id, 1, length({a})) = {b}"));
                params.extend([Param::Text(prefix), Param::Text(prefix)]);
            }
            Some(StreamMatch::Nothing) | None => {}
        }
        if let Some(u) = &search.user_id {
            conditions.push(condition("(metadata ->> 'user_id') = ?", &mut ph));
            params.push(Param::Text(u));
        }
        let correlation = search.correlation_id.map(|c| c.to_string());
        if let Some(c) = &correlation {
            conditions.push(condition("correlation_id = ?", &mut ph));
            params.push(Param::Text(c));
        }
        let tail = search
            .correlation_tail
            .as_ref()
            .map(|t| t.to_ascii_lowercase());
        if let Some(t) = &tail {
            conditions.push(condition("substr(correlation_id, 29) = ?", &mut ph));
            params.push(Param::Text(t));
        }
        if let Some(from) = search.from {
            conditions.push(condition("recorded_at_us >= ?", &mut ph));
            params.push(Param::Int(from.timestamp_micros()));
        }
        if let Some(to) = search.to {
            conditions.push(condition("recorded_at_us < ?", &mut ph));
            params.push(Param::Int(to.timestamp_micros()));
        }
        if let Some(first) = first {
            conditions.push(condition("position >= ?", &mut ph));
            params.push(Param::Int(first));
        }
        if let Some(last) = last {
            conditions.push(condition("position <= ?", &mut ph));
            params.push(Param::Int(last));
        }
        if let Some(after) = search.after {
            let op = if search.oldest_first { ">" } else { "<" };
            conditions.push(condition(&format!("position {op} ?"), &mut ph));
            params.push(Param::Int(after));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" where {}", conditions.join(" and "))
        };
        let order = if search.oldest_first { "asc" } else { "desc" };
        let statement = format!(
            "{}{filter} order by position {order} limit {}",
            r.dialect().select_events,
            ph.param()
        );
        params.push(Param::Int(i64::from(search.limit.max(1))));
        let rows =
            read_retrying(|| bind_all(sqlx::query(&statement), &params).fetch_all(r.db.pool()))
                .await?;
        let events = rows
            .iter()
            .map(decode_event)
            .collect::<StoreResult<Vec<_>>>()?;
        r.open(events).await
    }

    /// The streams whose id is `text`, starts with it, or ends with it (a short id), when there
    /// are few; else the prefix itself.
    async fn match_streams(&self, text: &str) -> StoreResult<StreamMatch> {
        let r = &self.inner.reader;
        let limit = i64::try_from(MAX_MATCHED_STREAMS + 1).unwrap_or(i64::MAX);
        let upper = prefix_upper_bound(text);
        let prefixed: Vec<String> = read_retrying(|| {
            let query = match &upper {
                Some(upper) => sqlx::query_scalar(PREFIXED_STREAMS)
                    .bind(text)
                    .bind(upper.as_str())
                    .bind(limit),
                None => sqlx::query_scalar(PREFIXED_STREAMS_UNBOUNDED)
                    .bind(text)
                    .bind(limit),
            };
            query.fetch_all(r.db.pool())
        })
        .await?;
        if prefixed.len() > MAX_MATCHED_STREAMS {
            return Ok(StreamMatch::Prefix(text.to_owned()));
        }
        let mut ids = prefixed;
        if looks_like_short_id(text) {
            let tails: Vec<String> = read_retrying(|| {
                sqlx::query_scalar(TAILED_STREAMS)
                    .bind(text.to_ascii_lowercase())
                    .bind(limit)
                    .fetch_all(r.db.pool())
            })
            .await?;
            for id in tails {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids.truncate(MAX_MATCHED_STREAMS);
        }
        Ok(if ids.is_empty() {
            StreamMatch::Nothing
        } else {
            StreamMatch::Ids(ids)
        })
    }

    /// Position bounds of a time range: `None` when no event can be in it, else the first and
    /// last position to look at (`None` each: unbounded).
    async fn time_bounds(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<(Option<i64>, Option<i64>)>> {
        let r = &self.inner.reader;
        let first = match from {
            None => None,
            Some(from) => {
                let at = from.timestamp_micros().saturating_sub(CLOCK_SLACK_US);
                let found: Option<i64> = read_retrying(|| {
                    sqlx::query_scalar(FIRST_AT_OR_AFTER)
                        .bind(at)
                        .fetch_optional(r.db.pool())
                })
                .await?;
                match found {
                    Some(p) => Some(p),
                    None => return Ok(None),
                }
            }
        };
        let last = match to {
            None => None,
            Some(to) => {
                let at = to.timestamp_micros().saturating_add(CLOCK_SLACK_US);
                let found: Option<i64> = read_retrying(|| {
                    sqlx::query_scalar(LAST_BEFORE)
                        .bind(at)
                        .fetch_optional(r.db.pool())
                })
                .await?;
                match found {
                    Some(p) => Some(p),
                    None => return Ok(None),
                }
            }
        };
        Ok(Some((first, last)))
    }

    /// When each of `positions` was recorded (positions not in the log are left out). The
    /// console's lag in seconds: the age of the oldest event a consumer has not applied.
    pub async fn recorded_at(&self, positions: &[i64]) -> StoreResult<Vec<(i64, DateTime<Utc>)>> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let r = &self.inner.reader;
        let mut ph = Placeholders::new(r.db.backend());
        let list: Vec<String> = positions.iter().map(|_| ph.param()).collect();
        let statement = format!(
            "select position, recorded_at_us from events where position in ({})",
            list.join(", ")
        );
        let params: Vec<Param<'_>> = positions.iter().map(|p| Param::Int(*p)).collect();
        let rows =
            read_retrying(|| bind_all(sqlx::query(&statement), &params).fetch_all(r.db.pool()))
                .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, timestamp(row.try_get(1)?)?)))
            .collect()
    }

    /// The events at `positions` as stored (no upcasting), in position order; positions not in
    /// the log are left out. The dead-letter list shows its events' payloads with this.
    pub async fn events_at(&self, positions: &[i64]) -> StoreResult<Vec<RecordedEvent>> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let r = &self.inner.reader;
        let mut ph = Placeholders::new(r.db.backend());
        let list: Vec<String> = positions.iter().map(|_| ph.param()).collect();
        let statement = format!(
            "{} where position in ({}) order by position",
            r.dialect().select_events,
            list.join(", ")
        );
        let params: Vec<Param<'_>> = positions.iter().map(|p| Param::Int(*p)).collect();
        let rows =
            read_retrying(|| bind_all(sqlx::query(&statement), &params).fetch_all(r.db.pool()))
                .await?;
        let events = rows
            .iter()
            .map(decode_event)
            .collect::<StoreResult<Vec<_>>>()?;
        r.open(events).await
    }

    /// Events per (event type, stream type, minute) at positions `after < p <= upto`: the
    /// console's statistics, read incrementally as the log grows.
    pub async fn count_events(&self, after: i64, upto: i64) -> StoreResult<Vec<EventCount>> {
        let r = &self.inner.reader;
        let rows = read_retrying(|| {
            sqlx::query(COUNT_EVENTS)
                .bind(after)
                .bind(upto)
                .fetch_all(r.db.pool())
        })
        .await?;
        rows.iter()
            .map(|row| {
                Ok(EventCount {
                    event_type: row.try_get(0)?,
                    stream_type: row.try_get(1)?,
                    minute: row.try_get(2)?,
                    count: row.try_get(3)?,
                })
            })
            .collect()
    }
}

/// Events of one (event type, stream type) recorded in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    pub event_type: String,
    pub stream_type: String,
    /// Minutes since the Unix epoch.
    pub minute: i64,
    pub count: i64,
}

/// `sql` with its one `?` replaced by the next placeholder.
fn condition(sql: &str, ph: &mut Placeholders) -> String {
    sql.replace('?', &ph.param())
}

/// The short id lists show (`domain::ids::short_id` in the app): the last 8 hex digits of a
/// UUID.
pub fn looks_like_short_id(text: &str) -> bool {
    text.len() == SHORT_ID_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Characters of a short id; `streams_short_id_idx` indexes this many from the end.
const SHORT_ID_LEN: usize = 8;

/// The smallest string greater than every string starting with `prefix` (its last character
/// moved one code point up; UTF-8 orders bytewise as code points do), or `None` when there is
/// none to give (an empty prefix, or one ending in the last code point).
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// $1 = text, $2 = its upper bound, $3 = limit. Stream ids compare bytewise on both backends
/// (see `LIST_STREAMS`), so `[text, upper)` is a range of the primary key.
const PREFIXED_STREAMS: &str = "select stream_id from streams \
     where stream_id >= $1 and stream_id < $2 \
       and substr(stream_id, 1, length($1)) = $1 order by stream_id limit $3";

/// $1 = text without an upper bound (empty, or ending in the last code point), $2 = limit.
const PREFIXED_STREAMS_UNBOUNDED: &str = "select stream_id from streams \
     where stream_id >= $1 and substr(stream_id, 1, length($1)) = $1 \
     order by stream_id limit $2";

/// $1 = tail (8 characters), $2 = limit. The expression is the one `streams_short_id_idx`
/// indexes, word for word.
const TAILED_STREAMS: &str = "select stream_id from streams \
     where substr(stream_id, length(stream_id) - 7) = $1 \
     order by stream_id limit $2";

/// $1 = recorded_at_us -> the first position recorded at or after it.
const FIRST_AT_OR_AFTER: &str = "select position from events where recorded_at_us >= $1 \
     order by recorded_at_us, position limit 1";

/// $1 = recorded_at_us -> the last position recorded before it.
const LAST_BEFORE: &str = "select position from events where recorded_at_us < $1 \
     order by recorded_at_us desc, position desc limit 1";

/// $1 = after, $2 = upto.
const COUNT_EVENTS: &str = "select event_type, stream_type, recorded_at_us / 60000000, count(*) \
     from events where position > $1 and position <= $2 \
     group by event_type, stream_type, recorded_at_us / 60000000";

#[cfg(test)]
mod tests {
    use super::looks_like_short_id;

    #[test]
    fn short_ids_are_hex_tails() {
        assert!(looks_like_short_id("f98215ca"));
        assert!(!looks_like_short_id("order-01"));
        assert!(!looks_like_short_id("abc"));
    }

    #[test]
    fn the_upper_bound_follows_every_string_with_the_prefix() {
        use super::prefix_upper_bound;
        assert_eq!(prefix_upper_bound("order-01").as_deref(), Some("order-02"));
        assert_eq!(prefix_upper_bound("a-").as_deref(), Some("a."));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        let bound = prefix_upper_bound("order-").unwrap_or_default();
        for id in ["order-", "order-ffff", "order-\u{10FFFF}"] {
            assert!(id < bound.as_str(), "{id}");
        }
        assert!("order." >= bound.as_str());
    }
}
