//! hubsync's one retry and rate-limit policy for GitHub (octocrab's retry layer stays off).
//!
//! What each answer means is decided here, from the status and headers alone:
//! 5xx and connection failures back off exponentially with jitter; 403/429 with `retry-after` or
//! `x-ratelimit-*` headers wait as GitHub asks; 404 and 422 (and other 4xx) are final.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (transient failures and rate-limit waits alike).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest hubsync waits for a rate limit inside one call; longer, the call fails with
    /// `RateLimited` and the caller reschedules.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(15 * 60),
        }
    }
}

/// What to do with one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Done,
    /// 5xx: back off and try again.
    Transient,
    /// A secondary limit: wait this long, then try again.
    SecondaryLimit(Duration),
    /// The installation's primary quota is spent: pause it until the reset.
    PrimaryExhausted(Duration),
    /// The token was refused: drop it and try once with a fresh one.
    Unauthorized,
    /// 404, 422 and any other client error: retrying cannot help.
    Final,
}

/// `body` is the error body, if read: GitHub names secondary limits only in the message.
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
    if status.is_success() {
        return Verdict::Done;
    }
    if status.is_server_error() {
        return Verdict::Transient;
    }
    match status {
        StatusCode::UNAUTHORIZED => Verdict::Unauthorized,
        StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS => {
            if let Some(wait) = header_u64(headers, "retry-after") {
                return Verdict::SecondaryLimit(Duration::from_secs(wait));
            }
            if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
                return Verdict::PrimaryExhausted(until_reset(headers));
            }
            // GitHub: otherwise wait at least a minute. A 403 without a rate-limit message is a
            // permission problem, which waiting cannot fix.
            let says_rate_limit = String::from_utf8_lossy(body)
                .to_ascii_lowercase()
                .contains("rate limit");
            if status == StatusCode::TOO_MANY_REQUESTS || says_rate_limit {
                Verdict::SecondaryLimit(Duration::from_secs(60))
            } else {
                Verdict::Final
            }
        }
        _ => Verdict::Final,
    }
}

/// A successful answer that spent the last request of the quota: pause before the next one.
pub(crate) fn quota_spent(headers: &HeaderMap) -> Option<Duration> {
    (header_u64(headers, "x-ratelimit-remaining") == Some(0)).then(|| until_reset(headers))
}

fn until_reset(headers: &HeaderMap) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    match header_u64(headers, "x-ratelimit-reset") {
        // One second of slack for clock skew between GitHub and us.
        Some(reset) => Duration::from_secs(reset.saturating_sub(now) + 1),
        None => Duration::from_secs(60),
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn classifies_answers() {
        let none = HeaderMap::new();
        assert_eq!(classify(StatusCode::OK, &none, b""), Verdict::Done);
        // Redirects are followed below this policy; one that surfaces went nowhere useful.
        assert_eq!(classify(StatusCode::FOUND, &none, b""), Verdict::Final);
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, &none, b""),
            Verdict::Transient
        );
        assert_eq!(classify(StatusCode::NOT_FOUND, &none, b""), Verdict::Final);
        assert_eq!(
            classify(StatusCode::UNPROCESSABLE_ENTITY, &none, b""),
            Verdict::Final
        );
        assert_eq!(classify(StatusCode::FORBIDDEN, &none, b""), Verdict::Final);
        let secondary = br#"{"message":"You have exceeded a secondary rate limit."}"#;
        assert_eq!(
            classify(StatusCode::FORBIDDEN, &none, secondary),
            Verdict::SecondaryLimit(Duration::from_secs(60))
        );
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, &none, b""),
            Verdict::Unauthorized
        );
        assert_eq!(
            classify(
                StatusCode::FORBIDDEN,
                &headers(&[("retry-after", "7")]),
                b""
            ),
            Verdict::SecondaryLimit(Duration::from_secs(7))
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &none, b""),
            Verdict::SecondaryLimit(Duration::from_secs(60))
        );
        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30;
        let exhausted = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset.to_string()),
        ]);
        match classify(StatusCode::FORBIDDEN, &exhausted, b"") {
            Verdict::PrimaryExhausted(d) => assert!(d >= Duration::from_secs(29), "{d:?}"),
            other => panic!("{other:?}"),
        }
        assert!(quota_spent(&exhausted).is_some());
        assert!(quota_spent(&headers(&[("x-ratelimit-remaining", "10")])).is_none());
    }
}
