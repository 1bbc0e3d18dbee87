//! The log's statistics: events per event type and per stream type, and events appended per
//! minute over the last hour. Folded from [`EventCount`] rows the store groups in SQL, read incrementally
//! from the position already counted (the whole log once at start, in bounded chunks).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::console::{EventStats, NamedCount};
use eventstore::EventCount;

use super::series::MinuteCounts;

/// The counts up to [`LogStats::position`].
#[derive(Debug, Clone, Default)]
pub struct LogStats {
    /// The last position counted.
    pub position: i64,
    by_type: HashMap<String, i64>,
    by_stream: HashMap<String, i64>,
    minutes: MinuteCounts,
}

fn sorted(map: &HashMap<String, i64>) -> Vec<NamedCount> {
    let mut counts: Vec<NamedCount> = map
        .iter()
        .map(|(name, count)| NamedCount {
            name: name.clone(),
            count: *count,
        })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    counts
}

impl LogStats {
    /// Adds the counts of positions `self.position < p <= upto`, counted at `now`.
    pub fn add(&mut self, upto: i64, counts: &[EventCount], now: DateTime<Utc>) {
        for c in counts {
            *self.by_type.entry(c.event_type.clone()).or_default() += c.count;
            *self.by_stream.entry(c.stream_type.clone()).or_default() += c.count;
            self.minutes.add(c.minute, c.count, now);
        }
        self.position = self.position.max(upto);
    }

    /// The statistics as the console shows them at `now`.
    pub fn view(&mut self, now: DateTime<Utc>) -> EventStats {
        EventStats {
            position: self.position,
            total: self.by_type.values().sum(),
            by_event_type: sorted(&self.by_type),
            by_stream_type: sorted(&self.by_stream),
            per_minute: self.minutes.last_hour(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(event_type: &str, stream_type: &str, minute: i64, count: i64) -> EventCount {
        EventCount {
            event_type: event_type.to_owned(),
            stream_type: stream_type.to_owned(),
            minute,
            count,
        }
    }

    #[test]
    fn counts_fold_by_type_and_stream_type_most_first() {
        let now = DateTime::from_timestamp(1000 * 60, 0).unwrap_or_default();
        let mut stats = LogStats::default();
        stats.add(
            3,
            &[
                count("OrderPlaced", "order", 1000, 2),
                count("CustomerRegistered", "customer", 1000, 1),
            ],
            now,
        );
        stats.add(5, &[count("OrderPlaced", "order", 999, 2)], now);
        let view = stats.view(now);
        assert_eq!(view.position, 5);
        assert_eq!(view.total, 5);
        assert_eq!(view.by_event_type[0].name, "OrderPlaced");
        assert_eq!(view.by_event_type[0].count, 4);
        assert_eq!(view.by_stream_type[1].name, "customer");
        assert_eq!(view.per_minute.iter().map(|m| m.count).sum::<i64>(), 5);
    }
}
