//! Outgoing webhooks (Standard Webhooks): the delivery task. Runs write their outcomes to the
//! outbox (store::outbox) in their own commit; this task claims due deliveries, POSTs them signed,
//! and records each attempt, apart from the sync workers: a receiver that is down or slow costs
//! its delivery slots, never a run.
pub mod send;
pub mod sign;
pub mod target;

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::{sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    backoff::{self, Jitter},
    metrics::Passes,
    progress::{Hub, ProgressEvent},
    store::outbox::deliveries::{self, Claimed, Next, Recorded},
};

/// How outgoing webhooks are delivered; read from the environment by `config`.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// First retry delay, doubling per attempt (`HUBSYNC_OUTBOX_RETRY_BASE_SECS`).
    pub retry_base: Duration,
    /// A delivery is retried until it is this old, then ends failed (`HUBSYNC_OUTBOX_RETRY_HOURS`).
    pub retry_window: Duration,
    /// Consecutive failed attempts that disable a subscription (`HUBSYNC_OUTBOX_DISABLE_AFTER`).
    pub disable_after: u32,
    /// Each request's time limit, connecting included (`HUBSYNC_OUTBOX_TIMEOUT_SECS`).
    pub timeout: Duration,
    /// Requests in flight in this process (`HUBSYNC_OUTBOX_CONCURRENCY`; 0: none sent here).
    pub concurrency: usize,
    /// Loopback and private targets allowed (`HUBSYNC_OUTBOX_ALLOW_PRIVATE=1`).
    pub allow_private: bool,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(5),
            retry_window: Duration::from_secs(24 * 3600),
            disable_after: 40,
            timeout: Duration::from_secs(10),
            concurrency: 8,
            allow_private: false,
        }
    }
}

/// The longest wait between two attempts (before jitter).
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(3600);
/// Looks for due deliveries at least this often when nothing woke it.
const POLL: Duration = Duration::from_secs(5);

/// What handlers use: the settings, and a wake-up after they made a delivery due.
#[derive(Clone)]
pub struct Outbox {
    pub settings: Arc<OutboxSettings>,
    wake: Arc<Notify>,
    /// Counted after each attempt is recorded.
    attempts: Passes,
}

impl Outbox {
    pub fn new(settings: OutboxSettings, attempts: Passes) -> Self {
        Self {
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
            attempts,
        }
    }

    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers until `shutdown`; then hands back what it holds, to be sent again at once by
    /// the next start or another replica.
    pub async fn run(self, db: DatabaseConnection, hub: Hub, shutdown: CancellationToken) {
        let settings = self.settings.clone();
        if settings.concurrency == 0 {
            return;
        }
        let client = match send::client(&settings) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the outgoing webhook client; none is sent");
                return;
            }
        };
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "hubsync".into());
        let worker: Arc<str> = format!("{host}:{}:outbox", std::process::id()).into();
        // Twice the request's limit: a lease never runs out while its request may still answer.
        let lease = chrono::Duration::from_std(settings.timeout * 2 + Duration::from_secs(10))
            .unwrap_or(chrono::Duration::MAX);
        let outcomes = tokio::spawn(wake_on_outcomes(hub, self.wake.clone(), shutdown.clone()));
        let mut inflight: JoinSet<()> = JoinSet::new();
        loop {
            let free = settings.concurrency.saturating_sub(inflight.len());
            if free == 0 {
                // Every slot busy: nothing to claim until one frees.
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = inflight.join_next() => {}
                }
                continue;
            }
            {
                match deliveries::claim(&db, &worker, lease, free as u64).await {
                    Ok(batch) => {
                        for c in batch {
                            let job = Job {
                                db: db.clone(),
                                client: client.clone(),
                                settings: settings.clone(),
                                worker: worker.clone(),
                                attempts: self.attempts.clone(),
                            };
                            inflight.spawn(job.deliver(c));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming outgoing webhooks failed"),
                }
            }
            let wait = self.until_due(&db).await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        outcomes.abort();
        inflight.abort_all();
        while inflight.join_next().await.is_some() {}
        match deliveries::release(&db, &worker).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deliveries = n, "outgoing webhooks handed back at shutdown"),
            Err(e) => {
                tracing::warn!(error = %e, "handing back outgoing webhooks failed; their leases will expire")
            }
        }
    }

    /// How long to sleep: until the next delivery is due, at most `POLL`.
    async fn until_due(&self, db: &DatabaseConnection) -> Duration {
        match deliveries::next_due(db).await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(5))
                .min(POLL),
            _ => POLL,
        }
    }
}

/// A run that ended (on any replica: the hub tails the shared event log) may have written
/// deliveries: look at once instead of at the next poll.
async fn wake_on_outcomes(hub: Hub, wake: Arc<Notify>, shutdown: CancellationToken) {
    let mut events = hub.subscribe();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            e = events.recv() => match e {
                Ok(p) if matches!(p.event, ProgressEvent::Succeeded { .. } | ProgressEvent::Failed { .. }) => wake.notify_one(),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => wake.notify_one(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

struct Job {
    db: DatabaseConnection,
    client: reqwest::Client,
    settings: Arc<OutboxSettings>,
    worker: Arc<str>,
    attempts: Passes,
}

impl Job {
    async fn deliver(self, c: Claimed) {
        let outcome = send::post(&self.client, &self.settings, &c).await;
        let d = &c.delivery;
        let next = if outcome.error.is_none() {
            Next::Delivered
        } else {
            let window = chrono::Duration::from_std(self.settings.retry_window)
                .unwrap_or(chrono::Duration::MAX);
            let now = Utc::now();
            if now >= d.created_at + window {
                Next::GiveUp
            } else {
                let n = (d.attempts + 1) as u32;
                let delay = backoff::delay(self.settings.retry_base, n, MAX_DELAY, Jitter::Above);
                Next::RetryAt(
                    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                )
            }
        };
        let disable_after = self.settings.disable_after;
        match deliveries::record(&self.db, d, &self.worker, &outcome, next, disable_after).await {
            Ok(Recorded::Done) => {}
            Ok(Recorded::Disabled) => tracing::warn!(
                subscription = d.subscription_id,
                failures = disable_after,
                "outgoing webhook subscription disabled after consecutive failures"
            ),
            Ok(Recorded::LeaseLost) => {
                tracing::info!(
                    delivery = d.id,
                    "outgoing webhook lease lost; another worker has it"
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, delivery = d.id, "recording an outgoing webhook attempt failed; it will be sent again")
            }
        }
        self.attempts.done();
        if let Some(e) = &outcome.error {
            tracing::debug!(delivery = d.id, attempt = d.attempts + 1, error = %e, "outgoing webhook attempt failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_outlast_the_retry_window() {
        let base = Duration::from_secs(5);
        // At the default base the first attempts come quickly, then hourly: 40 consecutive
        // failures (the default disabling point) take well over the 24-hour retry window.
        let total: Duration = (1..40)
            .map(|n| backoff::delay(base, n, MAX_DELAY, Jitter::None))
            .sum();
        assert!(total > Duration::from_secs(24 * 3600), "{total:?}");
    }
}
