//! Prometheus metrics (`GET /metrics`). One registry per running app, not a process-global
//! recorder: the integration tests run many apps in one process, and each reads its own. Each
//! count is taken where the thing happens (webhook intake, a run's end, the GitHub transport, the
//! SSE handlers); what the database knows (queue depth, sync lag) is read at scrape time.
//!
//! A leaf module: it imports only the leaves `passes` and `ids`, so every layer may use it.
//! Label values are bounded: event names from a fixed list, GitHub routes as templates,
//! projects capped per scrape.
use std::sync::{atomic::AtomicU64, Arc};

pub use crate::passes::{Activity, Passes};

use prometheus_client::{
    encoding::{prometheus_text, EncodeLabelSet},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::Registry,
};

use crate::ids::InstallationId;

/// The content type of what `render` returns (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// At most this many per-project lag series per scrape (the laggiest); `hubsync_sync_lag_max_seconds`
/// covers every project.
pub(crate) const LAG_SERIES: u64 = 100;

/// Events named by their own label value; any other `X-GitHub-Event` counts as `other`, so a
/// sender cannot grow the label set.
const KNOWN_EVENTS: &[&str] = &[
    "ping",
    "installation",
    "installation_repositories",
    "repository",
    "push",
    "create",
    "delete",
    "github_app_authorization",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    event: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstallationLabels {
    installation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectLabels {
    project: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn duration_histogram() -> Histogram {
    // 50 ms to ~7 minutes.
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

/// How a webhook request ended at intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryOutcome {
    Accepted,
    Duplicate,
    /// Signature missing or wrong.
    Unauthorized,
    /// Malformed headers or body, wrong content type, too large.
    Invalid,
    /// Not configured, or bodies in flight at their memory limit.
    Unavailable,
    /// hubsync failed to store it.
    Error,
}

impl DeliveryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Unauthorized => "unauthorized",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
        }
    }
}

/// How a sync run ended (a failed attempt that will be retried is not an end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunOutcome {
    Succeeded,
    Failed,
    Superseded,
}

impl RunOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Superseded => "superseded",
        }
    }
}

/// What the database says at scrape time.
#[derive(Debug, Default)]
pub struct Scraped {
    /// Deliveries stored and not yet processed.
    pub delivery_queue: i64,
    /// Sync runs queued (waiting or in backoff).
    pub sync_queue: i64,
    /// Per project id, seconds since its oldest unsynced push (projects with one only).
    pub lag: Vec<(i64, f64)>,
    /// The largest lag of any project (0 when everything is synced).
    pub lag_max: f64,
}

struct Inner {
    registry: Registry,
    deliveries: Family<DeliveryLabels, Counter>,
    delivery_queue: Gauge,
    sync_queue: Gauge,
    runs: Family<OutcomeLabels, Counter>,
    run_duration: Family<OutcomeLabels, Histogram, fn() -> Histogram>,
    lag: Family<ProjectLabels, FloatGauge>,
    lag_max: FloatGauge,
    github_requests: Family<RouteLabels, Counter>,
    rate_limit: Family<InstallationLabels, Gauge>,
    sse_subscribers: Gauge,
    activity: Activity,
    /// Held while a scrape reads the database: one scrape's queries at a time.
    scrape: tokio::sync::Mutex<()>,
}

/// The app's metrics; cheap to clone, shared by every layer that counts something.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hubsync");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook requests at intake, by event and outcome",
            deliveries.clone(),
        );
        let delivery_queue = Gauge::default();
        registry.register(
            "delivery_queue_depth",
            "Stored webhook deliveries not processed yet",
            delivery_queue.clone(),
        );
        let sync_queue = Gauge::default();
        registry.register(
            "sync_queue_depth",
            "Sync runs queued (waiting, debouncing or in backoff)",
            sync_queue.clone(),
        );
        let runs = Family::<OutcomeLabels, Counter>::default();
        // At 0 from the start, so that an alert on failures has a series before the first one.
        for outcome in [
            RunOutcome::Succeeded,
            RunOutcome::Failed,
            RunOutcome::Superseded,
        ] {
            drop(runs.get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            }));
        }
        registry.register("sync_runs", "Sync runs ended, by outcome", runs.clone());
        let run_duration: Family<OutcomeLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "sync_run_duration_seconds",
            "Sync run duration from its first attempt's start to its end, by outcome",
            run_duration.clone(),
        );
        let lag = Family::<ProjectLabels, FloatGauge>::default();
        registry.register(
            "sync_lag_seconds",
            "Age of the oldest push not yet synced, per project (the laggiest 100 with one)",
            lag.clone(),
        );
        let lag_max = FloatGauge::default();
        registry.register(
            "sync_lag_max_seconds",
            "Age of the oldest push not yet synced in any project (0: all synced)",
            lag_max.clone(),
        );
        let github_requests = Family::<RouteLabels, Counter>::default();
        registry.register(
            "github_requests",
            "HTTP requests to GitHub's API (each attempt), by route template and status",
            github_requests.clone(),
        );
        let rate_limit = Family::<InstallationLabels, Gauge>::default();
        registry.register(
            "github_rate_limit_remaining",
            "x-ratelimit-remaining of GitHub's last answer, per installation (app: the app's own)",
            rate_limit.clone(),
        );
        let sse_subscribers = Gauge::default();
        registry.register(
            "sse_subscribers",
            "Open Server-Sent Event streams (progress and change feed)",
            sse_subscribers.clone(),
        );
        let activity = Activity::register(&mut registry);
        Self(Arc::new(Inner {
            registry,
            activity,
            deliveries,
            delivery_queue,
            sync_queue,
            runs,
            run_duration,
            lag,
            lag_max,
            github_requests,
            rate_limit,
            sse_subscribers,
            scrape: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn activity(&self) -> &Activity {
        &self.0.activity
    }

    /// Taken by a scrape for its database reads.
    pub(crate) async fn scrape_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.scrape.lock().await
    }

    /// One webhook request at intake; `event` is the `X-GitHub-Event` header as sent, if any.
    pub(crate) fn webhook_delivery(&self, event: Option<&str>, outcome: DeliveryOutcome) {
        let event = event
            .and_then(|e| KNOWN_EVENTS.iter().copied().find(|k| *k == e))
            .unwrap_or("other");
        self.0
            .deliveries
            .get_or_create(&DeliveryLabels {
                event,
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// A run ended; `seconds` from its first attempt's start.
    pub(crate) fn sync_run(&self, outcome: RunOutcome, seconds: Option<f64>) {
        let labels = OutcomeLabels {
            outcome: outcome.as_str(),
        };
        self.0.runs.get_or_create(&labels).inc();
        if let Some(s) = seconds {
            self.0
                .run_duration
                .get_or_create(&labels)
                .observe(s.max(0.0));
        }
        self.0.activity.runs.done();
    }

    /// One request to GitHub: its route template and the answer's status (None: no answer).
    pub(crate) fn github_request(&self, route: &'static str, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
        self.0
            .github_requests
            .get_or_create(&RouteLabels { route, status })
            .inc();
    }

    /// GitHub's `x-ratelimit-remaining` for an installation (None: the app's own JWT quota).
    pub(crate) fn rate_limit_remaining(
        &self,
        installation: Option<InstallationId>,
        remaining: i64,
    ) {
        let installation = installation.map_or_else(|| "app".to_owned(), |i| i.to_string());
        self.0
            .rate_limit
            .get_or_create(&InstallationLabels { installation })
            .set(remaining);
    }

    /// Counts an open event stream until the guard is dropped.
    pub(crate) fn sse_subscriber(&self) -> SubscriberGuard {
        self.0.sse_subscribers.inc();
        SubscriberGuard(self.clone())
    }

    /// The text a scrape answers, with `scraped` as the database's figures.
    pub fn render(&self, scraped: &Scraped) -> String {
        let m = &self.0;
        m.delivery_queue.set(scraped.delivery_queue);
        m.sync_queue.set(scraped.sync_queue);
        m.lag_max.set(scraped.lag_max);
        // Projects that caught up drop out rather than stay at their last value.
        m.lag.clear();
        for (project, seconds) in &scraped.lag {
            m.lag
                .get_or_create(&ProjectLabels {
                    project: project.to_string(),
                })
                .set(*seconds);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &m.registry);
        out
    }
}

/// An open event stream; dropping it (the client went away) uncounts it.
pub(crate) struct SubscriberGuard(Metrics);

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0 .0.sse_subscribers.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_bounded_labels_in_prometheus_text() {
        let m = Metrics::new();
        m.webhook_delivery(Some("push"), DeliveryOutcome::Accepted);
        m.webhook_delivery(Some("made_up_event_name"), DeliveryOutcome::Unauthorized);
        m.github_request("GET /repos/{owner}/{repo}", Some(200));
        m.sync_run(RunOutcome::Succeeded, Some(0.3));
        let guard = m.sse_subscriber();
        let text = m.render(&Scraped {
            lag: vec![(7, 12.5)],
            lag_max: 12.5,
            ..Default::default()
        });
        for line in [
            "hubsync_webhook_deliveries_total{event=\"push\",outcome=\"accepted\"} 1",
            "hubsync_webhook_deliveries_total{event=\"other\",outcome=\"unauthorized\"} 1",
            "hubsync_github_requests_total{route=\"GET /repos/{owner}/{repo}\",status=\"200\"} 1",
            "hubsync_sync_runs_total{outcome=\"succeeded\"} 1",
            "hubsync_sync_run_duration_seconds_count{outcome=\"succeeded\"} 1",
            "hubsync_sync_lag_seconds{project=\"7\"} 12.5",
            "hubsync_sse_subscribers 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
        assert!(!text.contains("made_up_event_name"));
        drop(guard);
        let text = m.render(&Scraped::default());
        assert!(text.lines().any(|l| l == "hubsync_sse_subscribers 0"));
        assert!(
            !text.contains("project=\"7\""),
            "a caught-up project drops out"
        );
    }
}
