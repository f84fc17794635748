//! Faults injected on demand: a route answers with a failure N times, or answers late.
use std::time::Duration;

use actix_web::HttpResponse;

use super::server::{epoch_now, github_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A bare 5xx (500, 502, 503...).
    Status(u16),
    /// 403 "You have exceeded a secondary rate limit" with `retry-after: secs`.
    SecondaryRateLimit { retry_after: u64 },
    /// 429 with `retry-after: secs`.
    TooManyRequests { retry_after: u64 },
    /// 403 with `x-ratelimit-remaining: 0` and a reset `reset_in` seconds from now.
    PrimaryExhausted { reset_in: u64 },
    /// Answers normally, after this delay.
    Latency(Duration),
    /// Not GitHub's JSON: what a proxy or load balancer in front of it answers (an HTML 502).
    Raw {
        status: u16,
        content_type: &'static str,
        body: String,
    },
}

pub(crate) struct FaultRule {
    /// A route key like `GET /repos/{owner}/{repo}/git/blobs/{file_sha}`, or `*` for any.
    pub route: String,
    pub fault: Fault,
    pub remaining: u32,
}

const SECONDARY: &str =
    "You have exceeded a secondary rate limit. Please wait a few minutes before \
     you try again. If you reach out to GitHub Support for help, please include the request ID.";
const SECONDARY_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

impl Fault {
    /// The answer this fault gives instead of the real one (None: answer late, but normally).
    pub(crate) fn response(&self) -> Option<HttpResponse> {
        Some(match self {
            Fault::Status(code) => {
                let status = actix_web::http::StatusCode::from_u16(*code).ok()?;
                let message = status.canonical_reason().unwrap_or("Server Error");
                github_error(status, message)
            }
            Fault::SecondaryRateLimit { retry_after } => {
                let mut r = github_error_docs(403, SECONDARY);
                insert(&mut r, "retry-after", retry_after.to_string());
                r
            }
            Fault::TooManyRequests { retry_after } => {
                let mut r = github_error_docs(429, SECONDARY);
                insert(&mut r, "retry-after", retry_after.to_string());
                r
            }
            Fault::PrimaryExhausted { reset_in } => {
                let mut r = github_error(
                    actix_web::http::StatusCode::FORBIDDEN,
                    "API rate limit exceeded for installation.",
                );
                insert(&mut r, "x-ratelimit-limit", "5000".into());
                insert(&mut r, "x-ratelimit-remaining", "0".into());
                insert(&mut r, "x-ratelimit-used", "5000".into());
                insert(
                    &mut r,
                    "x-ratelimit-reset",
                    (epoch_now() + reset_in).to_string(),
                );
                insert(&mut r, "x-ratelimit-resource", "core".into());
                r
            }
            Fault::Raw {
                status,
                content_type,
                body,
            } => HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).ok()?)
                .content_type(*content_type)
                .body(body.clone()),
            Fault::Latency(_) => return None,
        })
    }
}

fn github_error_docs(code: u16, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(code).expect("valid status");
    HttpResponse::build(status).json(serde_json::json!({
        "message": message,
        "documentation_url": SECONDARY_DOCS,
        "status": code.to_string(),
    }))
}

fn insert(r: &mut HttpResponse, name: &'static str, value: String) {
    r.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static(name),
        value.parse().expect("header value"),
    );
}
