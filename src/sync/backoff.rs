//! GitHub lookups made in the background that failed recently: each is tried again after a delay
//! that doubles per consecutive failure, not on every pass (a pass runs after every processed
//! delivery, so a repository GitHub keeps refusing would otherwise cost a request per webhook).
//!
//! Kept in memory, on purpose: a failure is a hint, not state worth a migration. A restart forgets
//! it and costs one lookup per failing item; each replica keeps its own, so N replicas make at most
//! N lookups per delay. Whatever the lookup would have found is stored durably once it succeeds.
use std::{collections::HashMap, hash::Hash, time::Duration};

use tokio::time::Instant;

use crate::backoff::Jitter;

/// What was looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Lookup {
    /// A repository's default branch (`GET /repositories/{id}`), by repository id.
    Repository(i64),
    /// A pattern's matching branches (`GET /repos/{owner}/{repo}/branches`), by selection id.
    Branches(i64),
}

/// The longest wait between two tries.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub(crate) struct Backoff<K = Lookup> {
    first: Duration,
    failures: HashMap<K, Failure>,
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    count: u32,
    retry_at: Instant,
}

impl<K: Hash + Eq> Backoff<K> {
    /// `first`: the delay after one failure.
    pub fn new(first: Duration) -> Self {
        Self {
            first,
            failures: HashMap::new(),
        }
    }

    /// True while `key` failed and its delay has not passed: skip it this time.
    pub(crate) fn is_waiting(&self, key: &K, now: Instant) -> bool {
        self.failures.get(key).is_some_and(|f| f.retry_at > now)
    }

    /// Records a failure; returns how long `key` now waits.
    pub fn failed(&mut self, key: K, now: Instant) -> Duration {
        let count = self.failures.get(&key).map_or(0, |f| f.count) + 1;
        let delay = crate::backoff::delay(self.first, count, MAX_DELAY, Jitter::None);
        self.failures.insert(
            key,
            Failure {
                count,
                retry_at: now + delay,
            },
        );
        delay
    }

    pub fn succeeded(&mut self, key: &K) {
        self.failures.remove(key);
    }

    /// The next moment a waiting lookup may be tried, if one waits (to wake up for it, without
    /// a delivery to prompt it). Delays already over are not counted: the pass that ran after
    /// them has tried those keys, or they no longer need a lookup.
    pub(crate) fn next_due(&self, now: Instant) -> Option<Instant> {
        self.failures
            .values()
            .map(|f| f.retry_at)
            .filter(|at| *at > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_per_failure_up_to_an_hour_and_success_clears_it() {
        let now = Instant::now();
        let mut b = Backoff::new(Duration::from_secs(60));
        let key = Lookup::Repository(7);
        assert!(!b.is_waiting(&key, now));
        assert_eq!(b.failed(key, now), Duration::from_secs(60));
        assert!(b.is_waiting(&key, now));
        assert!(!b.is_waiting(&Lookup::Repository(8), now), "per key");
        assert!(!b.is_waiting(&key, now + Duration::from_secs(60)));
        assert_eq!(b.failed(key, now), Duration::from_secs(120));
        assert_eq!(b.next_due(now), Some(now + Duration::from_secs(120)));
        for _ in 0..30 {
            b.failed(key, now);
        }
        assert_eq!(b.failed(key, now), MAX_DELAY);
        b.succeeded(&key);
        assert!(!b.is_waiting(&key, now));
        assert_eq!(b.next_due(now), None);
    }

    #[test]
    fn a_delay_that_is_over_is_not_due_again() {
        let now = Instant::now();
        let mut b = Backoff::new(Duration::from_millis(10));
        b.failed(Lookup::Branches(1), now);
        assert_eq!(b.next_due(now + Duration::from_secs(1)), None);
    }
}
