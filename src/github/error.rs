//! The GitHub layer's one error type. Messages name the route, never a token or a URL query.
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub answered 404 Not Found for {route}")]
    NotFound { route: &'static str },
    #[error("GitHub rejected hubsync's credentials for {route} (401)")]
    Unauthorized { route: &'static str },
    /// `message` says what came back: GitHub's message, or the body's type, size and first bytes.
    #[error("GitHub answered {status} for {route}: {message}")]
    Status {
        status: u16,
        route: &'static str,
        message: String,
    },
    /// Still rate limited after the waits the policy allows; `retry_after` says when to come back.
    #[error("GitHub rate limit for {route} did not lift in time")]
    RateLimited {
        route: &'static str,
        retry_after: Option<Duration>,
    },
    #[error("cannot reach GitHub for {route}: {reason}")]
    Transport { route: &'static str, reason: String },
    #[error("unexpected answer from GitHub for {route}: {reason}")]
    Decode { route: &'static str, reason: String },
    #[error("cannot sign the app's JWT: {0}")]
    Jwt(String),
    #[error("invalid GitHub request: {0}")]
    Request(String),
}

impl GithubError {
    /// Worth trying again later (the worker decides when): outages and rate limits.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::RateLimited { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
