//! Per-minute series over the last hour: a consumer's greatest lag per minute (the console's
//! sparkline) and the events appended per minute. Kept in memory by each instance: a restart starts the
//! lag trend afresh (the appends are re-read from the log).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use domain::console::{LagPoint, MinuteCount};

/// Minutes a series keeps.
pub const MINUTES: usize = 60;

/// Minutes since the Unix epoch of `at`.
pub fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

fn start_of(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minute.saturating_mul(60), 0).unwrap_or_default()
}

/// The greatest lag seen in each of the last [`MINUTES`] minutes.
#[derive(Debug, Clone, Default)]
pub struct LagSeries {
    points: VecDeque<(i64, i64, f64)>,
}

impl LagSeries {
    /// Records a sample taken at `now`.
    pub fn record(&mut self, now: DateTime<Utc>, events: i64, seconds: f64) {
        let minute = minute_of(now);
        match self.points.back_mut() {
            Some((m, e, s)) if *m == minute => {
                *e = (*e).max(events);
                *s = s.max(seconds);
            }
            _ => self.points.push_back((minute, events, seconds)),
        }
        while self
            .points
            .front()
            .is_some_and(|(m, _, _)| *m <= minute - MINUTES as i64)
        {
            self.points.pop_front();
        }
    }

    /// The minutes sampled in the last hour, oldest first.
    pub fn points(&self) -> Vec<LagPoint> {
        self.points
            .iter()
            .map(|(m, events, seconds)| LagPoint {
                minute: start_of(*m),
                events: *events,
                seconds: *seconds,
            })
            .collect()
    }
}

/// Events appended per minute over the last [`MINUTES`] minutes.
#[derive(Debug, Clone, Default)]
pub struct MinuteCounts {
    counts: VecDeque<(i64, i64)>,
}

impl MinuteCounts {
    /// Adds `count` events recorded in `minute` (minutes arrive in any order); minutes more
    /// than an hour before `now` are not kept (the first count of a long log brings all of them).
    pub fn add(&mut self, minute: i64, count: i64, now: DateTime<Utc>) {
        if minute <= minute_of(now) - MINUTES as i64 {
            return;
        }
        match self.counts.iter_mut().find(|(m, _)| *m == minute) {
            Some((_, c)) => *c += count,
            None => {
                let at = self.counts.partition_point(|(m, _)| *m < minute);
                self.counts.insert(at, (minute, count));
            }
        }
    }

    /// Every minute of the hour ending with `now`'s minute, oldest first (zero where nothing
    /// was appended); older minutes are forgotten.
    pub fn last_hour(&mut self, now: DateTime<Utc>) -> Vec<MinuteCount> {
        let last = minute_of(now);
        let first = last - MINUTES as i64 + 1;
        while self.counts.front().is_some_and(|(m, _)| *m < first) {
            self.counts.pop_front();
        }
        (first..=last)
            .map(|minute| MinuteCount {
                minute: start_of(minute),
                count: self
                    .counts
                    .iter()
                    .find(|(m, _)| *m == minute)
                    .map_or(0, |(_, c)| *c),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64, second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(minute * 60 + second, 0).unwrap_or_default()
    }

    #[test]
    fn lag_keeps_the_greatest_per_minute_for_an_hour() {
        let mut s = LagSeries::default();
        s.record(at(1000, 1), 5, 0.5);
        s.record(at(1000, 30), 9, 0.2);
        s.record(at(1001, 0), 0, 0.0);
        let points = s.points();
        assert_eq!(points.len(), 2);
        assert_eq!((points[0].events, points[0].seconds), (9, 0.5));
        s.record(at(1000 + MINUTES as i64, 0), 1, 1.0);
        assert_eq!(s.points().len(), 2, "minute 1000 is more than an hour old");
    }

    #[test]
    fn minute_counts_fill_every_minute_and_forget_old_ones() {
        let mut c = MinuteCounts::default();
        let now = at(1000, 10);
        c.add(1000, 3, now);
        c.add(998, 1, now);
        c.add(1000, 2, now);
        c.add(1000 - MINUTES as i64, 7, now);
        let hour = c.last_hour(at(1000, 10));
        assert_eq!(hour.len(), MINUTES);
        assert_eq!(hour[MINUTES - 1].count, 5);
        assert_eq!(hour[MINUTES - 3].count, 1);
        assert_eq!(hour.iter().map(|m| m.count).sum::<i64>(), 6);
        let later = c.last_hour(at(1000 + MINUTES as i64, 0));
        assert_eq!(later.iter().map(|m| m.count).sum::<i64>(), 0);
    }
}
