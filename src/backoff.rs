//! The one exponential backoff: webhook delivery retries, sync run retries, background GitHub
//! lookups, GitHub request retries and outbox deliveries all wait `delay(..)`; only the jitter
//! each asks for differs.
use std::time::Duration;

/// The randomness added to the nominal delay, so callers that failed together do not all retry
/// at the same moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    /// Exactly the nominal delay: work retried from a durable queue one at a time (webhook
    /// deliveries, sync runs, lookups), whose waits an operator reads off the page.
    None,
    /// Anywhere in `[d/2, d]`, never above the cap: GitHub requests retried inside a run, many
    /// in parallel, where waiting longer than the cap only slows the run.
    Below,
    /// Up to a quarter more, `[d, 1.25 d]`, so at most `1.25 cap`: outbox deliveries, never
    /// earlier than a subscriber was promised.
    Above,
}

/// Before try `n` (1-based: the first retry waits `base`), doubling per try, at most `cap`, with
/// `jitter` on top.
pub(crate) fn delay(base: Duration, n: u32, cap: Duration, jitter: Jitter) -> Duration {
    let d = base.saturating_mul(1u32 << (n.clamp(1, 21) - 1)).min(cap);
    match jitter {
        Jitter::None => d,
        Jitter::Below => d / 2 + d.mul_f64(random_fraction() / 2.0),
        Jitter::Above => d + d.mul_f64(random_fraction() / 4.0),
    }
}

/// In `[0, 1)`; 0 if the system has no randomness to give (the nominal delay, then).
fn random_fraction() -> f64 {
    let mut r = [0u8; 8];
    let _ = getrandom::fill(&mut r);
    (u64::from_le_bytes(r) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_is_capped() {
        let (b, cap) = (Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(delay(b, 0, cap, Jitter::None), b);
        assert_eq!(delay(b, 1, cap, Jitter::None), b);
        assert_eq!(delay(b, 3, cap, Jitter::None), b * 4);
        assert_eq!(delay(b, 30, cap, Jitter::None), cap);
        assert_eq!(
            delay(Duration::MAX, 2, cap, Jitter::None),
            cap,
            "no overflow"
        );
    }

    #[test]
    fn jitter_stays_on_its_side_of_the_nominal_delay() {
        let (b, cap) = (Duration::from_millis(100), Duration::from_secs(1));
        let mut below = std::collections::HashSet::new();
        for n in 1..40 {
            let nominal = delay(b, n, cap, Jitter::None);
            let d = delay(b, n, cap, Jitter::Below);
            assert!(d >= nominal / 2 && d <= nominal, "{n}: {d:?}");
            below.insert(d);
            let d = delay(b, n, cap, Jitter::Above);
            assert!(d >= nominal && d <= nominal.mul_f64(1.25), "{n}: {d:?}");
        }
        assert!(delay(b, 30, cap, Jitter::Below) <= cap);
        assert!(below.len() > 5, "the delays differ: {below:?}");
    }
}
