//! The one exponential backoff: webhook delivery retries, sync run retries, background GitHub
//! lookups and GitHub request retries (which add jitter on top) all wait this long.
use std::time::Duration;

/// Before try `n` (1-based: the first retry waits `base`), doubling per try, at most `cap`.
pub(crate) fn exponential(base: Duration, n: u32, cap: Duration) -> Duration {
    base.saturating_mul(1u32 << (n.clamp(1, 21) - 1)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_is_capped() {
        let (b, cap) = (Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(exponential(b, 0, cap), b);
        assert_eq!(exponential(b, 1, cap), b);
        assert_eq!(exponential(b, 3, cap), b * 4);
        assert_eq!(exponential(b, 30, cap), cap);
        assert_eq!(exponential(Duration::MAX, 2, cap), cap, "no overflow");
    }
}
