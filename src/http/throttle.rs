//! Failed logins and bad bearer tokens, counted per client address: a client that keeps guessing
//! is slowed to `PER_MINUTE` guesses a minute (429 with Retry-After), while everyone else goes on.
//! In memory, per process: each replica counts the guesses it sees.
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Failures allowed in a burst, and refilled per minute.
pub(crate) const PER_MINUTE: f64 = 10.0;
/// Addresses tracked at once; past it, new addresses share one count (a flood from many
/// addresses is slowed as one client rather than growing the table).
const MAX_TRACKED: usize = 65_536;

/// IPv6 clients are counted per /64, which one host usually has whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    Unknown,
    Everyone,
}

impl Key {
    fn of(addr: Option<IpAddr>) -> Self {
        match addr {
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                Key::Addr(IpAddr::V6(std::net::Ipv6Addr::new(
                    s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                )))
            }
            Some(v4) => Key::Addr(v4),
            None => Key::Unknown,
        }
    }
}

/// A leaky bucket per key: each failure adds one, `PER_MINUTE` drain away each minute.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn now(self, now: Instant) -> f64 {
        let drained = now.saturating_duration_since(self.at).as_secs_f64() * PER_MINUTE / 60.0;
        (self.level - drained).max(0.0)
    }
}

#[derive(Default)]
pub(crate) struct Throttle {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

impl Throttle {
    /// None when the client may try; else how long it must wait.
    pub fn wait(&self, addr: Option<IpAddr>) -> Option<Duration> {
        self.wait_at(addr, Instant::now())
    }

    /// Counts one failure.
    pub fn failed(&self, addr: Option<IpAddr>) {
        self.failed_at(addr, Instant::now())
    }

    fn wait_at(&self, addr: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets
            .get(&Key::of(addr))
            .or_else(|| buckets.get(&Key::Everyone))?;
        let over = bucket.now(now) - (PER_MINUTE - 1.0);
        (over > 0.0).then(|| Duration::from_secs_f64(over * 60.0 / PER_MINUTE))
    }

    fn failed_at(&self, addr: Option<IpAddr>, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = Key::of(addr);
        if !buckets.contains_key(&key) && buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| b.now(now) > 0.0);
            if buckets.len() >= MAX_TRACKED {
                key = Key::Everyone;
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            level: 0.0,
            at: now,
        });
        *bucket = Bucket {
            level: bucket.now(now) + 1.0,
            at: now,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_a_minute_then_a_wait_that_drains() {
        let t = Throttle::default();
        let (a, b) = (
            Some("203.0.113.1".parse().unwrap()),
            Some("203.0.113.2".parse().unwrap()),
        );
        let start = Instant::now();
        for _ in 0..9 {
            t.failed_at(a, start);
            assert_eq!(t.wait_at(a, start), None);
        }
        t.failed_at(a, start);
        let wait = t.wait_at(a, start).expect("the tenth failure blocks");
        assert!((5.9..=6.1).contains(&wait.as_secs_f64()), "{wait:?}");
        assert_eq!(t.wait_at(b, start), None, "another client is not affected");
        assert_eq!(t.wait_at(a, start + Duration::from_secs(7)), None);
        // One more failure after the wait blocks again: 10 a minute, sustained.
        t.failed_at(a, start + Duration::from_secs(7));
        assert!(t.wait_at(a, start + Duration::from_secs(7)).is_some());
    }

    #[test]
    fn an_ipv6_host_is_counted_per_64() {
        let t = Throttle::default();
        for i in 0..10 {
            t.failed(Some(format!("2001:db8:1:2::{i:x}").parse().unwrap()));
        }
        assert!(t
            .wait(Some("2001:db8:1:2:ffff::1".parse().unwrap()))
            .is_some());
        assert!(t.wait(Some("2001:db8:1:3::1".parse().unwrap())).is_none());
    }
}
