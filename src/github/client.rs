//! The GitHub transport: octocrab's HTTP stack, pointed at `GITHUB_API_URL`, driven by hubsync's
//! own retry loop. Every request is traced with method, route and status; tokens ride in a
//! sensitive header and are never logged.
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt};
use octocrab::Octocrab;
use tokio::time::Instant;
use url::Url;

use super::GithubConfig;
use super::{
    excerpt,
    jwt::AppJwt,
    retry::{classify, quota_spent, RetryPolicy, Verdict},
    GithubApp, GithubError,
};
use crate::{
    backoff::{self, Jitter},
    ids::InstallationId,
    metrics::Metrics,
    secret::Secret,
};

#[derive(Debug, Clone)]
pub struct GithubOptions {
    pub api_url: Url,
    /// Requests in flight per installation, to stay under GitHub's secondary limits.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Per attempt: until the headers (streams) or the whole body (everything else).
    pub request_timeout: Duration,
    /// Counts every request by route and status, and the rate limit GitHub reports.
    pub metrics: Metrics,
}

impl GithubOptions {
    pub(crate) fn from_config(github: &GithubConfig, metrics: &Metrics) -> Self {
        Self {
            api_url: github.api_url.clone(),
            concurrency: github.concurrency,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
            metrics: metrics.clone(),
        }
    }
}

/// Counts the HTTP requests a caller made (retries included), e.g. one sync run's "API requests".
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

impl RequestCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// One request, described before it is sent (so it can be sent again).
pub(crate) struct Req {
    pub method: Method,
    /// The route template, e.g. `GET /repos/{owner}/{repo}/git/blobs/{sha}`: traced and in errors.
    pub route: &'static str,
    pub url: Url,
    pub accept: &'static str,
    pub body: Option<String>,
}

pub(crate) enum Body {
    Bytes(Bytes),
    Stream(BoxBody<Bytes, octocrab::Error>),
}

pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Body,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Buffer,
    Stream,
}

pub(crate) enum Credential<'a> {
    None,
    App(&'a AppJwt),
    Installation {
        id: i64,
        app: &'a GithubApp,
    },
    /// A user-to-server token (Sign in with GitHub).
    User(&'a Secret),
}

/// Unauthenticated access to GitHub's API (the manifest conversion needs no credentials).
#[derive(Clone)]
pub struct GithubHttp {
    octocrab: Octocrab,
    api_url: Url,
    retry: RetryPolicy,
    timeout: Duration,
    metrics: Metrics,
}

impl std::fmt::Debug for GithubHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GithubHttp({})", self.api_url)
    }
}

impl GithubHttp {
    pub fn new(options: &GithubOptions) -> Result<Self, GithubError> {
        let octocrab = Octocrab::builder()
            .base_uri(options.api_url.as_str())
            .and_then(|b| {
                b.set_connect_timeout(Some(Duration::from_secs(10)))
                    .set_read_timeout(Some(options.request_timeout))
                    .set_write_timeout(Some(options.request_timeout))
                    .build()
            })
            .map_err(|e| GithubError::Request(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            octocrab,
            api_url: options.api_url.clone(),
            retry: options.retry.clone(),
            timeout: options.request_timeout,
            metrics: options.metrics.clone(),
        })
    }

    /// `path` (starting with `/`) under the API root, which may carry a path (`/api/v3`).
    pub(crate) fn url(&self, path: &str) -> Result<Url, GithubError> {
        let raw = format!("{}{}", self.api_url.as_str().trim_end_matches('/'), path);
        Url::parse(&raw).map_err(|e| GithubError::Request(format!("bad URL for {path}: {e}")))
    }

    /// The same client, answering `RateLimited` at once where it would wait: for background
    /// passes that stop and come back later rather than hold a task for minutes.
    pub(crate) fn impatient(&self) -> Self {
        let mut c = self.clone();
        c.retry.max_rate_limit_wait = Duration::ZERO;
        c
    }

    /// Only URLs on the API's own origin get a token (pagination links are followed here).
    pub(crate) fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.api_url.origin()
    }

    pub(crate) async fn execute(
        &self,
        cred: Credential<'_>,
        req: &Req,
        counter: Option<&RequestCounter>,
        mode: Mode,
    ) -> Result<Answer, GithubError> {
        let route = req.route;
        let policy = &self.retry;
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut waited = Duration::ZERO;
        loop {
            attempt += 1;
            let (token, gate) = match &cred {
                Credential::None => (None, None),
                Credential::App(jwt) => (Some(jwt.sign()?), None),
                Credential::User(token) => (Some((*token).clone()), None),
                Credential::Installation { id, app } => (
                    Some(Box::pin(app.installation_token(*id)).await?),
                    Some(app.gate(*id)),
                ),
            };
            let permit = match &gate {
                Some(g) => {
                    let paused = g.paused_for();
                    if paused > Duration::ZERO {
                        if waited + paused > policy.max_rate_limit_wait {
                            return Err(GithubError::RateLimited {
                                route,
                                retry_after: Some(paused),
                            });
                        }
                        tracing::warn!(
                            route,
                            wait_s = paused.as_secs(),
                            "installation paused: rate limit spent"
                        );
                        tokio::time::sleep(paused).await;
                        waited += paused;
                    }
                    g.permits.acquire().await.ok()
                }
                None => None,
            };
            if let Some(c) = counter {
                c.add();
            }
            let sent = self.send_once(req, token.as_ref(), mode).await;
            drop(permit);
            self.count(&cred, route, &sent);
            let answer = match sent {
                Ok(a) => a,
                Err(reason) => {
                    tracing::warn!(method = %req.method, route, attempt, %reason, "github request failed");
                    if attempt >= policy.max_attempts {
                        return Err(GithubError::Transport { route, reason });
                    }
                    tokio::time::sleep(retry_wait(policy, attempt)).await;
                    continue;
                }
            };
            let status = answer.status;
            tracing::debug!(method = %req.method, route, status = status.as_u16(), attempt, "github request");
            let body: &[u8] = match &answer.body {
                Body::Bytes(b) => b,
                Body::Stream(_) => b"",
            };
            let verdict = classify(status, &answer.headers, body);
            let wait = match verdict {
                Verdict::Done => {
                    if let (Some(g), Some(d)) = (&gate, quota_spent(&answer.headers)) {
                        g.pause(d);
                    }
                    return Ok(answer);
                }
                Verdict::Transient => {
                    tracing::warn!(method = %req.method, route, status = status.as_u16(), attempt, "github server error");
                    if attempt >= policy.max_attempts {
                        return Err(status_error(route, answer));
                    }
                    retry_wait(policy, attempt)
                }
                Verdict::SecondaryLimit(d) | Verdict::PrimaryExhausted(d) => {
                    tracing::warn!(method = %req.method, route, status = status.as_u16(), wait_s = d.as_secs(), "github rate limit");
                    if attempt >= policy.max_attempts || waited + d > policy.max_rate_limit_wait {
                        return Err(GithubError::RateLimited {
                            route,
                            retry_after: Some(d),
                        });
                    }
                    if let (Verdict::PrimaryExhausted(_), Some(g)) = (&verdict, &gate) {
                        // The whole installation waits, not just this caller.
                        g.pause(d);
                        continue;
                    }
                    waited += d;
                    d
                }
                Verdict::Unauthorized => match (&cred, token) {
                    (Credential::Installation { id, app }, Some(token)) if !refreshed => {
                        tracing::info!(
                            route,
                            installation = id,
                            "token refused; fetching a new one"
                        );
                        app.tokens.invalidate(*id, &token).await;
                        refreshed = true;
                        attempt -= 1;
                        continue;
                    }
                    _ => return Err(GithubError::Unauthorized { route }),
                },
                Verdict::Final if status == StatusCode::NOT_FOUND => {
                    return Err(GithubError::NotFound { route })
                }
                Verdict::Final => return Err(status_error(route, answer)),
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The one place every request to GitHub is counted.
    fn count(&self, cred: &Credential<'_>, route: &'static str, sent: &Result<Answer, String>) {
        let answer = sent.as_ref().ok();
        self.metrics
            .github_request(route, answer.map(|a| a.status.as_u16()));
        let remaining = answer
            .and_then(|a| a.headers.get("x-ratelimit-remaining"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        match (cred, remaining) {
            (Credential::Installation { id, .. }, Some(r)) => self
                .metrics
                .rate_limit_remaining(Some(InstallationId(*id)), r),
            (Credential::App(_), Some(r)) => self.metrics.rate_limit_remaining(None, r),
            _ => {}
        }
    }

    async fn send_once(
        &self,
        req: &Req,
        token: Option<&Secret>,
        mode: Mode,
    ) -> Result<Answer, String> {
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str())
            .header(header::ACCEPT, req.accept)
            .header(header::USER_AGENT, "hubsync")
            .header("x-github-api-version", "2022-11-28");
        if let Some(token) = token {
            let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
                .map_err(|_| "the token is not a valid header value".to_string())?;
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        if req.body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(req.body.clone().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + self.timeout;
        let response = tokio::time::timeout_at(deadline, self.octocrab.execute(request))
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let stream = mode == Mode::Stream && parts.status.is_success();
        let body = if stream {
            Body::Stream(body)
        } else {
            let bytes = tokio::time::timeout_at(deadline, body.collect())
                .await
                .map_err(|_| format!("body not received within {:?}", self.timeout))?
                .map_err(|e| e.to_string())?
                .to_bytes();
            Body::Bytes(bytes)
        };
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A non-retryable answer as an error, saying what came back (see `excerpt`).
/// Before retry `attempt` of a failed request: jittered below the cap, as requests retried in
/// parallel inside one run should neither retry in lockstep nor wait longer than the cap.
fn retry_wait(policy: &RetryPolicy, attempt: u32) -> std::time::Duration {
    backoff::delay(policy.base_delay, attempt, policy.max_delay, Jitter::Below)
}

fn status_error(route: &'static str, answer: Answer) -> GithubError {
    let message = match &answer.body {
        Body::Bytes(b) => excerpt::describe(&answer.headers, b),
        Body::Stream(_) => "a streamed body".into(),
    };
    GithubError::Status {
        status: answer.status.as_u16(),
        route,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_keep_an_enterprise_api_path() {
        let options = GithubOptions {
            api_url: Url::parse("https://ghe.example.com/api/v3").unwrap(),
            concurrency: 8,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(5),
            metrics: Metrics::default(),
        };
        let http = GithubHttp::new(&options).unwrap();
        let url = http.url("/repos/o/r/git/trees/abc?recursive=1").unwrap();
        assert_eq!(
            url.as_str(),
            "https://ghe.example.com/api/v3/repos/o/r/git/trees/abc?recursive=1"
        );
        assert!(http.same_origin(&Url::parse("https://ghe.example.com/x").unwrap()));
        assert!(!http.same_origin(&Url::parse("https://evil.example.com/x").unwrap()));
    }
}
