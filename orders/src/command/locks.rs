//! One async lock per stream id ([`CommandConfig::serialize_per_stream`]): commands of one
//! stream in one process queue instead of racing and retrying.
//!
//! [`CommandConfig::serialize_per_stream`]: crate::command::CommandConfig::serialize_per_stream

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// One async lock per stream id, for [`CommandConfig::serialize_per_stream`]. Entries are weak:
/// a lock lives while someone holds or waits for it; dead entries are swept as the map grows.
#[derive(Debug, Default)]
pub(super) struct StreamLocks {
    map: Mutex<LockMap>,
}

#[derive(Debug, Default)]
struct LockMap {
    locks: HashMap<String, Weak<tokio::sync::Mutex<()>>>,
    sweep_at: usize,
}

impl StreamLocks {
    pub(super) async fn lock(&self, stream_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            match map.locks.get(stream_id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    map.locks
                        .insert(stream_id.to_owned(), Arc::downgrade(&lock));
                    if map.locks.len() > map.sweep_at {
                        map.locks.retain(|_, weak| weak.strong_count() > 0);
                        map.sweep_at = (map.locks.len() * 2).max(1024);
                    }
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}
