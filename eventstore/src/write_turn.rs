//! SQLite's one write lock, handed out inside this process: appends first, everything else
//! (projection batches, operator actions, backfills) in arrival order between them.
//!
//! Why appends first: a command's reply waits for its append, a projection batch only delays a
//! read model by a few milliseconds. With one first-come-first-served queue, every command
//! landed behind the batches its predecessor had just woken (six read models, six transactions)
//! and waited for all of them. Now a background writer that finds an append waiting lets it go
//! first, and yields again if an append arrives while it queues. An append then waits for the
//! background transaction that already holds the lock, and for those that have already yielded
//! for [`MAX_YIELD`] (they no longer give way).
//!
//! Why the yielding is bounded ([`MAX_YIELD`]): under a steady stream of appends one is nearly
//! always waiting, and a background writer that always yielded would never write (the read
//! models would fall behind without limit). After `MAX_YIELD` it takes its place in the queue
//! like before, so a read model's lag stays bounded by the load, not by luck.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

/// How long a background writer lets appends go first, at most, before it queues anyway.
pub const MAX_YIELD: Duration = Duration::from_millis(20);

/// The lock and the count of appends waiting for it.
#[derive(Default)]
pub(crate) struct WriteTurns {
    lock: Arc<Mutex<()>>,
    /// Appends queued for the lock (not yet holding it).
    appends_waiting: AtomicUsize,
    /// Woken when the last waiting append got the lock.
    appends_clear: Notify,
}

/// Counts one waiting append for as long as it lives (also if the wait is cancelled).
struct Waiting<'a>(&'a WriteTurns);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.0.appends_waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.appends_clear.notify_waiters();
        }
    }
}

impl WriteTurns {
    /// The lock for an append: ahead of every background writer that has not started.
    pub(crate) async fn append(&self) -> OwnedMutexGuard<()> {
        self.appends_waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(self);
        let guard = self.lock.clone().lock_owned().await;
        drop(waiting);
        guard
    }

    /// The lock for a background writer: after the appends waiting now or arriving while it
    /// waits, for at most [`MAX_YIELD`]; then in arrival order.
    pub(crate) async fn background(&self) -> OwnedMutexGuard<()> {
        let until = tokio::time::Instant::now() + MAX_YIELD;
        loop {
            self.appends_gone(until).await;
            let guard = self.lock.clone().lock_owned().await;
            if self.appends_waiting.load(Ordering::SeqCst) == 0
                || tokio::time::Instant::now() >= until
            {
                return guard;
            }
            // An append queued behind this writer meanwhile: it goes first.
            drop(guard);
        }
    }

    /// Returns once no append waits, or at `until`.
    async fn appends_gone(&self, until: tokio::time::Instant) {
        loop {
            let notified = self.appends_clear.notified();
            tokio::pin!(notified);
            // Registered before the check, so the wake-up of the last append cannot be missed.
            notified.as_mut().enable();
            if self.appends_waiting.load(Ordering::SeqCst) == 0 {
                return;
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An append that arrives while a background writer holds the lock and two more wait goes
    /// right after the holder, before the two (first come, first served would make it third).
    #[tokio::test(flavor = "current_thread")]
    async fn an_append_goes_before_waiting_background_writers() {
        let turns = Arc::new(WriteTurns::default());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let holder = turns.background().await;
        let mut tasks = Vec::new();
        for name in ["background 1", "background 2", "append"] {
            let (turns, order) = (turns.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _guard = if name == "append" {
                    turns.append().await
                } else {
                    turns.background().await
                };
                order.lock().unwrap_or_else(|e| e.into_inner()).push(name);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }));
            // Each one queued before the next is spawned.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(holder);
        for task in tasks {
            task.await.unwrap_or_else(|e| panic!("task failed: {e}"));
        }
        let order = order.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(order.first(), Some(&"append"), "{order:?}");
        assert_eq!(order.len(), 3, "{order:?}");
    }

    /// Under a stream of appends that never stops, a background writer still gets the lock
    /// once it has let appends go first for `MAX_YIELD`.
    #[tokio::test(flavor = "current_thread")]
    async fn a_background_writer_is_not_starved_by_appends() {
        let turns = Arc::new(WriteTurns::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut appenders = Vec::new();
        for _ in 0..3 {
            let (turns, stop) = (turns.clone(), stop.clone());
            appenders.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let _guard = turns.append().await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let started = tokio::time::Instant::now();
        let guard = tokio::time::timeout(Duration::from_secs(10), turns.background())
            .await
            .unwrap_or_else(|_| panic!("starved: no turn in 10 s of appends"));
        let waited = started.elapsed();
        drop(guard);
        stop.store(true, Ordering::SeqCst);
        for task in appenders {
            task.await
                .unwrap_or_else(|e| panic!("appender failed: {e}"));
        }
        assert!(
            waited >= MAX_YIELD,
            "it let the appends go first ({waited:?})"
        );
        // Then it queued behind at most the three appenders (2 ms each); the bound is loose for
        // a loaded machine: a starved writer would not get here at all.
        assert!(
            waited <= MAX_YIELD + Duration::from_secs(1),
            "then it queued like the others ({waited:?})"
        );
    }
}
