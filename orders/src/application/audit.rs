//! The audit use cases: the streams of the event log and their events, read from the log itself
//! by design (the audit trail is the log, not a read model). Every list is bounded.

use domain::OrderId;
use domain::account::Capability;
use domain::failure::ErrorKind;
use domain::ids::{StreamId, StreamKind};
use domain::requests::ListStreams;
use domain::views::{EventView, StreamPage};
use eventstore::upcast::is_unreadable;
use eventstore::{EventStore, StoreError, StreamFilter};
use uuid::Uuid;

use crate::application::access::forbidden;
use crate::application::text::storable;
use crate::application::{AppError, AppResult, Application, RequestContext};
use crate::audit::{event_view, stream_view};

/// Page size when none is asked for.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page of streams or events.
pub const MAX_PAGE: u32 = 500;
/// Longest stream id, prefix or cursor accepted.
const MAX_TEXT: usize = 200;

fn limit(requested: Option<u32>) -> u32 {
    requested.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_PAGE)
}

fn short(value: Option<String>, what: &str) -> AppResult<Option<String>> {
    match value {
        Some(v) if v.len() > MAX_TEXT => Err(AppError::invalid(
            "invalid_query",
            format!("{what} is too long."),
        )),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => {
            storable(&v, what)?;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

impl Application {
    /// A page of streams, by type and id prefix, after a cursor.
    pub async fn streams(&self, ctx: &RequestContext, input: ListStreams) -> AppResult<StreamPage> {
        self.allow(ctx, "streams", Capability::EventLog)?;
        let limit = limit(input.limit);
        let filter = StreamFilter {
            stream_type: short(input.stream_type, "type")?,
            id_prefix: short(input.prefix, "prefix")?,
            after: short(input.after, "after")?,
            limit: limit + 1,
        };
        let mut streams = self.inner.store.list_streams(&filter).await?;
        let next_after = if streams.len() > limit as usize {
            streams.truncate(limit as usize);
            streams.last().map(|s| s.stream_id.clone())
        } else {
            None
        };
        Ok(StreamPage {
            streams: streams.into_iter().map(stream_view).collect(),
            next_after,
        })
    }

    /// The events of a stream from `from_version` (default 1), at most `limit`; 404 for a
    /// stream that does not exist. Staff read any stream; a customer the streams of their own
    /// orders and of their own customer record (the order's timeline and time travel).
    pub async fn stream_events(
        &self,
        ctx: &RequestContext,
        stream_id: &str,
        from_version: Option<i64>,
        limit_: Option<u32>,
    ) -> AppResult<Vec<EventView>> {
        if stream_id.len() > MAX_TEXT {
            return Err(AppError::invalid(
                "invalid_path",
                "The stream id is too long.",
            ));
        }
        storable(stream_id, "stream id")?;
        self.allow_stream(ctx, stream_id).await?;
        let store = &self.inner.store;
        let from = from_version.unwrap_or(1).max(1);
        let page = limit(limit_);
        let events = match store.read_stream(stream_id, from, page).await {
            Ok(events) => events,
            Err(error) if is_unreadable(&error) => {
                return Err(unreadable_event(store, stream_id, from, page, error).await);
            }
            Err(error) => return Err(error.into()),
        };
        if events.is_empty() && store.stream_version(stream_id).await? == 0 {
            return Err(AppError::not_found("stream", stream_id));
        }
        Ok(events.into_iter().map(event_view).collect())
    }

    /// The events of one correlation id (one user action), in log order, at most `limit`.
    pub async fn correlated(
        &self,
        ctx: &RequestContext,
        correlation_id: Uuid,
        limit_: Option<u32>,
    ) -> AppResult<Vec<EventView>> {
        self.allow(ctx, "correlated", Capability::EventLog)?;
        let events = self
            .inner
            .store
            .read_correlated(correlation_id, limit(limit_))
            .await?;
        Ok(events.into_iter().map(event_view).collect())
    }
}

/// `read_stream(stream_id, from, limit)` failed on an event the store cannot read (its upcaster
/// refuses it, its row does not decode): the error names that event (its version, found by
/// bisecting the readable prefix) instead of a bare internal error.
async fn unreadable_event(
    store: &impl EventStore,
    stream_id: &str,
    from: i64,
    limit: u32,
    mut error: StoreError,
) -> AppError {
    let (mut good, mut bad) = (0_u32, limit);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        match store.read_stream(stream_id, from, mid).await {
            Ok(_) => good = mid,
            Err(e) if is_unreadable(&e) => {
                bad = mid;
                error = e;
            }
            Err(e) => return e.into(),
        }
    }
    let version = from + i64::from(good);
    tracing::error!(stream_id, version, error = %error, "a stored event cannot be read");
    AppError::new(
        ErrorKind::Internal,
        "event_unreadable",
        format!(
            "The event at version {version} of stream {stream_id} cannot be read: {error}. \
             It needs a fixed upcaster; the projections that read it hold it as a dead letter."
        ),
    )
}

impl Application {
    /// Whether the caller may read `stream_id` (see [`Application::stream_events`]).
    async fn allow_stream(&self, ctx: &RequestContext, stream_id: &str) -> AppResult<()> {
        const ACTION: &str = "stream_events";
        let principal = self.guard(ACTION, ctx.signed_in())?;
        if principal.role.can(Capability::EventLog) {
            return Ok(());
        }
        let owned = match StreamId::parse(stream_id) {
            Some(s) if s.kind() == StreamKind::Order => {
                self.owns_order(principal, OrderId::new(s.id())).await?
            }
            Some(s) if s.kind() == StreamKind::Customer => {
                principal.customer_id.map(|c| c.as_uuid()) == Some(s.id())
            }
            _ => false,
        };
        if owned {
            Ok(())
        } else {
            self.guard(ACTION, Err(forbidden("read this stream")))
        }
    }
}
