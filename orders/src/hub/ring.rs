//! The hub's memory of recent changes, numbered in publish order, so a reconnecting client gets
//! exactly what it missed or is told to resync.
//!
//! Log positions cannot serve as the resume cursor: projections advance independently, so a
//! slower projection publishes a change at a lower position after a faster one's change at a
//! higher position; a client that remembers "the highest position I saw" cannot tell which of
//! those lower ones reached it. Sequence numbers count publications instead: every change gets
//! the next number; a resync (a rebuild swap, a lagging hub) also takes a number, at which the
//! ring forgets everything before. A client holding number `n` has received every change up
//! to `n` it cares about; what it needs on reconnect is every change after `n`, which the ring
//! has while `n` is not older than what it forgot.

use std::collections::VecDeque;

use domain::live::Change;

/// Recent changes with their sequence numbers, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct Ring {
    entries: VecDeque<(u64, Change)>,
    capacity: usize,
    /// The last sequence number given out (0: none yet).
    last: u64,
    /// Changes with a sequence number at or below this one may be missing from `entries`
    /// (evicted, or cleared by a resync): a client at an older number must resync.
    forgotten: u64,
    /// The same boundary as a log position, for the coarse position-based resume: the highest
    /// position of a change no longer here (or of the hub's start).
    forgotten_position: i64,
}

impl Ring {
    /// An empty ring keeping `capacity` changes (at least one).
    pub(crate) fn new(capacity: usize, start_position: i64) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity.clamp(1, 4096)),
            capacity: capacity.max(1),
            last: 0,
            forgotten: 0,
            forgotten_position: start_position,
        }
    }

    /// Remembers `change`; its sequence number.
    pub(crate) fn publish(&mut self, change: Change) -> u64 {
        self.last += 1;
        if self.entries.len() >= self.capacity
            && let Some((evicted, old)) = self.entries.pop_front()
        {
            self.forgotten = self.forgotten.max(evicted);
            self.forgotten_position = self.forgotten_position.max(old.position);
        }
        self.entries.push_back((self.last, change));
        self.last
    }

    /// Everyone refetches: forgets every change; the sequence number of the resync.
    pub(crate) fn resync(&mut self, position: i64) -> u64 {
        self.last += 1;
        self.entries.clear();
        self.forgotten = self.last;
        self.forgotten_position = self.forgotten_position.max(position);
        self.last
    }

    /// The remembered changes, oldest first.
    pub(crate) fn changes(&self) -> impl Iterator<Item = &Change> + Clone {
        self.entries.iter().map(|(_, c)| c)
    }

    /// See `forgotten_position`.
    pub(crate) fn forgotten_position(&self) -> i64 {
        self.forgotten_position
    }

    /// The last sequence number given out.
    pub(crate) fn last(&self) -> u64 {
        self.last
    }

    /// The changes numbered after `seq` up to `until` (inclusive), oldest first; `None` when
    /// some of them are forgotten or `seq` is not one this ring gave out (the client resyncs).
    pub(crate) fn between(&self, seq: u64, until: u64) -> Option<Vec<(u64, Change)>> {
        if seq > self.last || seq < self.forgotten {
            return None;
        }
        Some(
            self.entries
                .iter()
                .filter(|(n, _)| *n > seq && *n <= until)
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use domain::live::ProjectionName;
    use proptest::prelude::*;

    use super::*;

    fn change(projection: ProjectionName, position: i64) -> Change {
        Change {
            projection,
            position,
            streams: Vec::new(),
        }
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// A projection publishes a change at a position (any order across projections).
        Publish(u8, i64),
        /// A rebuild swap or a lagging hub: everyone resyncs.
        Resync,
        /// The client's connection drops.
        Disconnect,
        /// The client reconnects with its cursor.
        Reconnect,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0u8..5, 0i64..100).prop_map(|(p, pos)| Step::Publish(p, pos)),
            1 => Just(Step::Resync),
            2 => Just(Step::Disconnect),
            2 => Just(Step::Reconnect),
        ]
    }

    proptest! {
        /// Over random interleavings of projections (positions in any order), ring evictions
        /// (small capacities), resyncs and reconnects: every published change reaches the
        /// client, or the client gets a resync after it was published.
        #[test]
        fn a_reconnecting_client_gets_every_missed_change_or_a_resync(
            capacity in 1usize..8,
            steps in proptest::collection::vec(step(), 1..120),
        ) {
            let mut ring = Ring::new(capacity, 0);
            let mut connected = true;
            // The client's cursor and what it has: changes received, and the number of the last
            // resync it got (everything published before that is covered by a refetch).
            let mut cursor = ring.last();
            let mut received = BTreeSet::new();
            let mut resynced_at = 0u64;
            let mut published = Vec::new();
            for step in steps {
                match step {
                    Step::Publish(p, position) => {
                        let seq = ring.publish(change(ProjectionName::ALL[p as usize], position));
                        published.push(seq);
                        if connected {
                            received.insert(seq);
                            cursor = seq;
                        }
                    }
                    Step::Resync => {
                        let seq = ring.resync(0);
                        if connected {
                            resynced_at = seq;
                            cursor = seq;
                        }
                    }
                    Step::Disconnect => connected = false,
                    Step::Reconnect if !connected => {
                        connected = true;
                        // The new connection's live stream starts after `last`; the ring answers
                        // what lies between the cursor and that point.
                        let start = ring.last();
                        match ring.between(cursor, start) {
                            Some(missed) => {
                                for (seq, _) in missed {
                                    prop_assert!(seq > cursor && seq <= start);
                                    received.insert(seq);
                                }
                            }
                            None => resynced_at = start,
                        }
                        cursor = start;
                    }
                    Step::Reconnect => {}
                }
            }
            if !connected {
                let start = ring.last();
                match ring.between(cursor, start) {
                    Some(missed) => received.extend(missed.into_iter().map(|(seq, _)| seq)),
                    None => resynced_at = start,
                }
            }
            for seq in published {
                prop_assert!(
                    received.contains(&seq) || seq <= resynced_at,
                    "change {seq} neither received nor covered by a resync (at {resynced_at})"
                );
            }
        }
    }

    #[test]
    fn the_boundary_is_exact() {
        let mut ring = Ring::new(2, 0);
        let a = ring.publish(change(ProjectionName::Orders, 10));
        let b = ring.publish(change(ProjectionName::Dashboard, 3));
        let c = ring.publish(change(ProjectionName::Orders, 11)); // evicts a
        // A client that got `a` may resume: b and c are still here.
        let after_a = ring.between(a, c).unwrap_or_default();
        assert_eq!(
            after_a.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![b, c]
        );
        // A client before `a` missed `a`, which is forgotten: resync.
        assert_eq!(ring.between(a - 1, c), None);
        // A cursor from another hub (beyond what this one gave out): resync.
        assert_eq!(ring.between(c + 1, c), None);
        // Nothing missed.
        assert_eq!(ring.between(c, c), Some(Vec::new()));
        let r = ring.resync(11);
        assert_eq!(ring.between(c, r), None);
        assert_eq!(ring.between(r, r), Some(Vec::new()));
    }
}
