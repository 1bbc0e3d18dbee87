//! The recently read part of the log, shared by a runner's projection tasks.
//!
//! During a catch-up or a rebuild every projection reads the same positions at nearly the same
//! time; without this each batch would be read and decoded from the database once per
//! projection. The log is gap-free and never changes below the head, so a cached event is final.
//! A read is served from the cache only when the cache holds the whole batch asked for: a short
//! answer means "caught up" to the runner (a rebuild swaps on it), so it must come from the
//! database. A live batch ([`LogCache::read_live`]) may also be answered short from the cache
//! when the cache holds everything up to the store's head watch: every position up to it is
//! committed (the watch is published after commit), and a later commit moves the watch, which
//! wakes the task again. Under a steady flow of commands that is every live read but one per
//! commit (the first projection to wake reads, the other five and every "anything more?" read
//! after a batch are answered here): without it each projection read the log twice per commit.
//! A rebuild's reads stay strict: its swap must not land behind the live generation, which may
//! have read from the database past the watch.
//!
//! Events are shared ([`Arc`]), not copied: every projection of a runner gets the same decoded
//! event (its JSON parsed once per read, not once per projection).
//!
//! An event the store cannot hand out (its upcaster refuses it, its row does not decode) fails
//! the store's whole `read_all`; [`LogCache::read_all`] then finds it by bisection and answers
//! the readable events before it plus an [`Unreadable`] stand-in carrying the row's identity
//! (read with plain SQL), so each projection can dead-letter it or pass it by instead of the
//! whole log stopping.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::envelope::RecordedEvent;
use crate::error::{StoreError, StoreResult};
use crate::sql_store::SqlEventStore;
use crate::store::EventStore as _;
use crate::upcast::is_unreadable;

/// Events kept (the newest ones read).
const CAPACITY: usize = 10_000;

pub(crate) struct LogCache {
    store: Arc<SqlEventStore>,
    /// The store's head: everything up to it is committed.
    head: watch::Receiver<i64>,
    recent: Mutex<Recent>,
    /// Held while a miss reads from the database (see [`LogCache::read_through`]).
    reading: tokio::sync::Mutex<()>,
}

impl LogCache {
    pub(crate) fn new(store: Arc<SqlEventStore>) -> Self {
        Self {
            head: store.head_watch(),
            store,
            recent: Mutex::new(Recent::default()),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// `read_all(after, limit)` of the store, from the cache when it holds all `limit` events.
    /// When an event in range cannot be read, the events before it and the event's stand-in.
    ///
    /// The cache keeps events as stored (personal fields sealed) and opens them on the way out,
    /// so a field erased while its event is cached is not handed out opened.
    pub(crate) async fn read_all(&self, after: i64, limit: u32) -> StoreResult<LogRead> {
        self.read(after, limit, Bound::Batch).await
    }

    /// [`read_all`](Self::read_all) for a live batch: also answered from the cache when it
    /// holds every event up to the head watch (fewer than `limit`, none when `after` is at the
    /// head), see the module docs.
    pub(crate) async fn read_live(&self, after: i64, limit: u32) -> StoreResult<LogRead> {
        self.read(after, limit, Bound::Head).await
    }

    async fn read(&self, after: i64, limit: u32, bound: Bound) -> StoreResult<LogRead> {
        let cached = self.lookup(after, limit, bound);
        let sealed = match cached {
            Some(hit) => LogRead::complete(hit),
            None => self.read_through(after, limit, bound).await?,
        };
        self.open(sealed).await
    }

    /// The cached answer, if the cache holds it: the whole batch, or with [`Bound::Head`] the
    /// events up to the head watch when that is fewer.
    fn lookup(&self, after: i64, limit: u32, bound: Bound) -> Option<Vec<Arc<RecordedEvent>>> {
        let limit = limit as usize;
        match bound {
            Bound::Batch => self.recent().lookup(after, limit),
            Bound::Head => {
                let head = *self.head.borrow();
                self.recent().lookup_until(after, limit, head)
            }
        }
    }

    /// A miss: one task at a time reads from the database. The projections of a runner ask for
    /// the same batch at nearly the same moment (they take turns committing and then all read
    /// the next one), so whoever waited here usually finds its batch cached by the one before
    /// it instead of reading and decoding it again.
    async fn read_through(&self, after: i64, limit: u32, bound: Bound) -> StoreResult<LogRead> {
        let _reading = self.reading.lock().await;
        if let Some(hit) = self.lookup(after, limit, bound) {
            return Ok(LogRead::complete(hit));
        }
        Ok(match self.store.read_all_sealed(after, limit).await {
            Ok(events) => {
                let events: Vec<Arc<RecordedEvent>> = events.into_iter().map(Arc::new).collect();
                self.recent().remember(&events);
                LogRead::complete(events)
            }
            Err(error) if is_unreadable(&error) => self.locate(after, limit, error).await?,
            Err(error) => return Err(error),
        })
    }

    /// `read_all(after, limit)` failed on an unreadable event: the longest readable prefix
    /// and the stand-in of the event after it ([`SqlEventStore::locate_unreadable`]).
    async fn locate(&self, after: i64, limit: u32, error: StoreError) -> StoreResult<LogRead> {
        let run = self.store.locate_unreadable(after, limit, error).await?;
        let events: Vec<Arc<RecordedEvent>> = run.events.into_iter().map(Arc::new).collect();
        self.recent().remember(&events);
        Ok(LogRead {
            events,
            unreadable: run.unreadable.map(|u| Unreadable {
                event: u.stand_in(),
                error: u.error,
            }),
        })
    }

    /// Opens the sealed fields of `read`. An event whose field does not open ends the answer
    /// like any unreadable event: the events before it, and its stand-in. Only the events with
    /// a sealed field are copied (each projection gets its own opened copy, see
    /// [`LogCache::read_all`]); the others stay shared with the cache.
    async fn open(&self, read: LogRead) -> StoreResult<LogRead> {
        let LogRead {
            mut events,
            unreadable,
        } = read;
        let sealed: Vec<usize> = (0..events.len())
            .filter(|&i| is_sealed(&events[i]))
            .collect();
        if sealed.is_empty() {
            return Ok(LogRead { events, unreadable });
        }
        let copies = sealed.iter().map(|&i| RecordedEvent::clone(&events[i]));
        match self.store.open_sealed(copies.collect()).await {
            Ok(opened) => {
                for (&i, event) in sealed.iter().zip(opened) {
                    events[i] = Arc::new(event);
                }
                return Ok(LogRead { events, unreadable });
            }
            Err(error) if is_unreadable(&error) => {}
            Err(error) => return Err(error),
        }
        // Event by event, to find the first one that does not open.
        let mut opened = Vec::with_capacity(events.len());
        for event in events {
            if !is_sealed(&event) {
                opened.push(event);
                continue;
            }
            match self
                .store
                .open_sealed(vec![RecordedEvent::clone(&event)])
                .await
            {
                Ok(one) => opened.extend(one.into_iter().map(Arc::new)),
                Err(error) if is_unreadable(&error) => {
                    let stand_in = RecordedEvent {
                        data: serde_json::Value::Null,
                        metadata: Default::default(),
                        tags: Vec::new(),
                        ..RecordedEvent::clone(&event)
                    };
                    return Ok(LogRead {
                        events: opened,
                        unreadable: Some(Unreadable {
                            event: stand_in,
                            error: error.to_string(),
                        }),
                    });
                }
                Err(error) => return Err(error),
            }
        }
        Ok(LogRead {
            events: opened,
            unreadable,
        })
    }

    /// Drops every cached event. The log never changes, except by an operator who repairs a
    /// poison event's row and then retries: the retry must read the row as it is now.
    pub(crate) fn forget(&self) {
        self.recent().events.clear();
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How short a cached answer may be.
#[derive(Clone, Copy)]
enum Bound {
    /// Only the whole batch asked for.
    Batch,
    /// Up to the head watch.
    Head,
}

/// Whether `event` has a sealed personal field.
fn is_sealed(event: &RecordedEvent) -> bool {
    crate::personal_data::any_sealed(std::slice::from_ref(event))
}

/// What [`LogCache::read_all`] answers: readable events in order and, when the next event
/// cannot be read, its stand-in (right after the last readable one).
pub(crate) struct LogRead {
    pub(crate) events: Vec<Arc<RecordedEvent>>,
    pub(crate) unreadable: Option<Unreadable>,
}

impl LogRead {
    fn complete(events: Vec<Arc<RecordedEvent>>) -> Self {
        Self {
            events,
            unreadable: None,
        }
    }
}

/// An event the store refuses to hand out: `event` has its row's identity (position, id,
/// stream, type, schema version) and no data; `error` is why it cannot be read.
pub(crate) struct Unreadable {
    pub(crate) event: RecordedEvent,
    pub(crate) error: String,
}

/// A contiguous run of the newest events read, oldest first, at most [`CAPACITY`].
#[derive(Default)]
struct Recent {
    events: VecDeque<Arc<RecordedEvent>>,
}

impl Recent {
    fn lookup(&self, after: i64, limit: usize) -> Option<Vec<Arc<RecordedEvent>>> {
        let first = self.events.front()?.position;
        let start = usize::try_from(after + 1 - first).ok()?;
        if limit == 0 || start + limit > self.events.len() {
            return None;
        }
        let hit: Vec<Arc<RecordedEvent>> =
            self.events.range(start..start + limit).cloned().collect();
        // Positions are contiguous (gap-free log); check rather than trust.
        let contiguous = hit.first().is_some_and(|e| e.position == after + 1)
            && hit
                .last()
                .is_some_and(|e| e.position == after + limit as i64);
        contiguous.then_some(hit)
    }

    /// [`lookup`](Self::lookup) of the events after `after` up to `head` when they are fewer
    /// than `limit` (none when `after` is at or past `head`).
    fn lookup_until(&self, after: i64, limit: usize, head: i64) -> Option<Vec<Arc<RecordedEvent>>> {
        match usize::try_from(head - after) {
            Ok(0) | Err(_) => Some(Vec::new()),
            Ok(to_head) => self.lookup(after, to_head.min(limit)),
        }
    }

    fn remember(&mut self, events: &[Arc<RecordedEvent>]) {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return;
        };
        match self.events.back().map(|e| e.position + 1) {
            // Continues the cached run (or overlaps its end): append the new part.
            Some(next) if first.position <= next && last.position >= next => {
                let skip = usize::try_from(next - first.position).unwrap_or(0);
                self.events.extend(events.iter().skip(skip).cloned());
            }
            // Older than the cached end: a projection behind the others; keep the newer run.
            Some(next) if last.position < next => {}
            // Empty, or past a gap after the cached run: start a new run.
            _ => {
                self.events.clear();
                self.events.extend(events.iter().cloned());
            }
        }
        while self.events.len() > CAPACITY {
            self.events.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(positions: std::ops::RangeInclusive<i64>) -> Vec<Arc<RecordedEvent>> {
        positions
            .map(|position| {
                Arc::new(RecordedEvent {
                    position,
                    event_id: uuid::Uuid::now_v7(),
                    stream_id: "s".into(),
                    stream_type: "t".into(),
                    version: position,
                    event_type: "E".into(),
                    schema_version: 1,
                    data: serde_json::Value::Null,
                    metadata: Default::default(),
                    recorded_at: chrono::Utc::now(),
                    tags: Vec::new(),
                })
            })
            .collect()
    }

    fn positions(hit: Option<Vec<Arc<RecordedEvent>>>) -> Option<Vec<i64>> {
        hit.map(|events| events.iter().map(|e| e.position).collect())
    }

    #[test]
    fn serves_only_whole_batches_it_holds() {
        let mut recent = Recent::default();
        assert_eq!(positions(recent.lookup(0, 2)), None);
        recent.remember(&events(1..=4));
        recent.remember(&events(3..=6)); // overlapping continuation
        assert_eq!(positions(recent.lookup(0, 3)), Some(vec![1, 2, 3]));
        assert_eq!(positions(recent.lookup(4, 2)), Some(vec![5, 6]));
        // Not all of the batch is cached: the database must answer (a short read means
        // "caught up").
        assert_eq!(positions(recent.lookup(5, 2)), None);
        // An older batch does not replace the newer run; a gap starts a new one.
        recent.remember(&events(1..=2));
        assert_eq!(positions(recent.lookup(5, 1)), Some(vec![6]));
        recent.remember(&events(10..=11));
        assert_eq!(positions(recent.lookup(0, 1)), None);
        assert_eq!(positions(recent.lookup(9, 2)), Some(vec![10, 11]));
    }

    #[test]
    fn answers_short_up_to_the_head_it_is_given() {
        let mut recent = Recent::default();
        recent.remember(&events(1..=4));
        // Everything up to the head is cached: a short answer is the whole truth.
        assert_eq!(
            positions(recent.lookup_until(1, 100, 4)),
            Some(vec![2, 3, 4])
        );
        assert_eq!(positions(recent.lookup_until(0, 2, 4)), Some(vec![1, 2]));
        // At (or, with a watch behind a read, past) the head: nothing, without a read.
        assert_eq!(positions(recent.lookup_until(4, 100, 4)), Some(vec![]));
        assert_eq!(positions(recent.lookup_until(5, 100, 4)), Some(vec![]));
        // The head is past what is cached: the database must answer.
        assert_eq!(positions(recent.lookup_until(2, 100, 5)), None);
        // Older than the cached run: the database too.
        recent.remember(&events(10..=12));
        assert_eq!(positions(recent.lookup_until(8, 100, 12)), None);
        assert_eq!(
            positions(recent.lookup_until(9, 100, 12)),
            Some(vec![10, 11, 12])
        );
    }

    #[test]
    fn keeps_at_most_capacity() {
        let mut recent = Recent::default();
        let total = CAPACITY as i64 + 10;
        recent.remember(&events(1..=total));
        assert_eq!(recent.events.len(), CAPACITY);
        assert_eq!(positions(recent.lookup(0, 1)), None);
        assert_eq!(positions(recent.lookup(total - 1, 1)), Some(vec![total]));
    }
}
