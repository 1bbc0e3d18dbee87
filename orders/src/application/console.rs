//! The operator console's use cases: the event browser (the whole log, searched and
//! keyset-paged), the log's statistics, the dead-letter history with payloads, and the
//! causation tree of one correlation id. Staff read the log (`Capability::EventLog`); dead
//! letters are operations (`Capability::Operations`).

use chrono::{DateTime, Utc};
use domain::account::Capability;
use domain::console::{
    CorrelationTree, DeadLetterPage, DeadLetterResolution, DeadLetterView, EventSearchPage,
    EventStats,
};
use domain::requests::SearchEvents;
use eventstore::{LogSearch, RecordedEvent};
use uuid::Uuid;

use crate::application::text::storable;
use crate::application::{AppError, AppResult, Application, RequestContext};
use crate::audit::event_view;
use crate::console::tree::{self, CAUSED_BY_KEY, COMMAND_KEY};

/// Page size of the event browser and the dead-letter list when none is asked for.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page.
pub const MAX_PAGE: u32 = 200;
/// Most events one causation tree shows.
pub const MAX_TREE_EVENTS: u32 = 1_000;
/// Longest filter text.
const MAX_FILTER: usize = 200;

fn text(value: Option<String>, what: &str) -> AppResult<Option<String>> {
    match value.map(|v| v.trim().to_owned()) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if v.chars().count() > MAX_FILTER => Err(AppError::invalid(
            "invalid_query",
            format!("The {what} filter is longer than {MAX_FILTER} characters."),
        )),
        Some(v) => {
            storable(&v, what)?;
            Ok(Some(v))
        }
    }
}

fn time(value: Option<String>, what: &str) -> AppResult<Option<DateTime<Utc>>> {
    match text(value, what)? {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(&v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                AppError::invalid(
                    "invalid_query",
                    format!("The {what} time must be RFC 3339, like 2026-12-01T09:30:00Z."),
                )
            }),
    }
}

fn page(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// A metadata text field of a stored event.
fn extra(e: &RecordedEvent, key: &str) -> Option<String> {
    e.metadata
        .extra
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

impl Application {
    /// One page of the event browser.
    pub async fn search_events(
        &self,
        ctx: &RequestContext,
        input: SearchEvents,
    ) -> AppResult<EventSearchPage> {
        self.allow(ctx, "search_events", Capability::EventLog)?;
        let oldest_first = match text(input.order, "order")?.as_deref() {
            None | Some("newest") => false,
            Some("oldest") => true,
            Some(_) => {
                return Err(AppError::invalid(
                    "invalid_query",
                    "order must be newest or oldest.",
                ));
            }
        };
        // A whole correlation id, or the short id lists show (its last 8 hex digits).
        let (correlation_id, correlation_tail) = match text(input.correlation, "correlation")? {
            None => (None, None),
            Some(c) if eventstore::sql_store::looks_like_short_id(&c) => (None, Some(c)),
            Some(c) => match Uuid::parse_str(&c) {
                Ok(id) => (Some(id), None),
                Err(_) => {
                    return Err(AppError::invalid(
                        "invalid_query",
                        "The correlation id must be a UUID or the short id lists show (its last 8 hex digits).",
                    ));
                }
            },
        };
        if input.after.is_some_and(|a| a < 0) {
            return Err(AppError::invalid(
                "invalid_query",
                "after must be a position (0 or more).",
            ));
        }
        let (from, to) = (time(input.from, "from")?, time(input.to, "to")?);
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(AppError::invalid(
                "invalid_query",
                "from must be earlier than to.",
            ));
        }
        let limit = page(input.limit);
        let search = LogSearch {
            event_type: text(input.event_type, "type")?,
            stream_type: text(input.stream_type, "stream type")?,
            stream: text(input.stream, "stream")?,
            user_id: text(input.user, "user")?,
            correlation_id,
            correlation_tail,
            from,
            to,
            oldest_first,
            after: input.after,
            limit: limit + 1,
        };
        let mut events = self.inner.store.search_log(&search).await?;
        let next_after = if events.len() > limit as usize {
            events.truncate(limit as usize);
            events.last().map(|e| e.position)
        } else {
            None
        };
        Ok(EventSearchPage {
            events: events.into_iter().map(event_view).collect(),
            next_after,
        })
    }

    /// The log's statistics (counts per event type and stream type, events appended per minute).
    pub fn event_stats(&self, ctx: &RequestContext) -> AppResult<EventStats> {
        self.allow(ctx, "event_stats", Capability::EventLog)?;
        Ok(self.inner.console.stats())
    }

    /// The dead-letter history, newest first, of one projection or all.
    pub async fn dead_letters(
        &self,
        ctx: &RequestContext,
        projection: Option<String>,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> AppResult<DeadLetterPage> {
        self.allow(ctx, "dead_letters", Capability::Operations)?;
        let projection = text(projection, "projection")?;
        let limit = page(limit);
        let mut letters = self
            .runner()
            .dead_letters(projection.as_deref(), before, limit + 1)
            .await?;
        let next_before = if letters.len() > limit as usize {
            letters.truncate(limit as usize);
            letters.last().map(|d| d.id)
        } else {
            None
        };
        let mut positions: Vec<i64> = letters.iter().map(|d| d.position).collect();
        positions.sort_unstable();
        positions.dedup();
        let events = self.inner.store.events_at(&positions).await?;
        let dead_letters = letters
            .into_iter()
            .map(|d| {
                let event = events.iter().find(|e| e.position == d.position);
                DeadLetterView {
                    id: d.id,
                    projection: d.projection,
                    generation: d.generation,
                    event_id: d.event_id,
                    position: d.position,
                    event_type: d.event_type,
                    stream_id: event.map(|e| e.stream_id.clone()),
                    data: event.map(|e| e.data.clone()),
                    error: d.error,
                    attempts: d.attempts,
                    failed_at: d.failed_at,
                    resolution: match d.resolution.as_deref() {
                        Some("retried") => Some(DeadLetterResolution::Retried),
                        Some("skipped") => Some(DeadLetterResolution::Skipped),
                        _ => None,
                    },
                    reason: d.reason,
                    resolved_by: d.resolved_by,
                    resolved_at: d.resolved_at,
                }
            })
            .collect();
        Ok(DeadLetterPage {
            dead_letters,
            next_before,
        })
    }

    /// What one correlation id caused, as a tree by causation.
    pub async fn correlation_tree(
        &self,
        ctx: &RequestContext,
        correlation_id: Uuid,
    ) -> AppResult<CorrelationTree> {
        self.allow(ctx, "correlation_tree", Capability::EventLog)?;
        let mut events = self
            .inner
            .store
            .search_log(&LogSearch {
                correlation_id: Some(correlation_id),
                oldest_first: true,
                limit: MAX_TREE_EVENTS + 1,
                ..LogSearch::default()
            })
            .await?;
        if events.is_empty() {
            return Err(AppError::not_found("correlation", correlation_id));
        }
        let truncated = events.len() > MAX_TREE_EVENTS as usize;
        events.truncate(MAX_TREE_EVENTS as usize);
        let nodes = events
            .into_iter()
            .map(|e| {
                let name = extra(&e, COMMAND_KEY);
                let cause = extra(&e, CAUSED_BY_KEY).and_then(|c| Uuid::parse_str(&c).ok());
                (event_view(e), name, cause)
            })
            .collect();
        Ok(tree::build(correlation_id, nodes, truncated))
    }
}
