//! Self-healing for what webhooks missed while GitHub or hubsync was away: asking GitHub to
//! redeliver the deliveries it could not make (redelivery.rs), and comparing installations and
//! their repositories with GitHub's lists (installations.rs). Each pass holds a lease row in
//! `background_passes`, so replicas take turns, and records what it did for the status page.
//!
//! This module sits above `webhook` and `sync`: it replays installation changes through the
//! webhook layer's own handler, so both paths share one meaning of each event.
pub mod installations;
pub mod redelivery;

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{
    github::{GithubApp, GithubError, GithubSlot},
    metrics::Passes,
    store::{
        entities::background_passes,
        passes::{self, Finished, PassKind},
    },
    sync::{AutoSelect, Nudge},
};

/// A pass holds its lease this long at most; a replica that died mid-pass is replaced after it.
const LEASE: Duration = Duration::from_secs(5 * 60);
/// A pass stops starting new GitHub requests after this (well within its lease); what is left
/// is for the next pass.
pub(crate) const PASS_BUDGET: Duration = Duration::from_secs(2 * 60);
/// How often the task looks again while there are no credentials, or another replica holds a
/// lease or a rate-limit pause is on.
const RECHECK: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub(crate) enum HealError {
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("replaying an installation change failed: {0}")]
    Handle(#[from] crate::webhook::handle::HandleError),
}

/// Installations a handler asked to be looked at now (the app's setup URL, after an install).
/// Bounded: past `REQUESTS` waiting, further asks are dropped (the scheduled pass still comes).
#[derive(Clone)]
pub struct InstallRequests(tokio::sync::mpsc::Sender<i64>);

const REQUESTS: usize = 8;

impl InstallRequests {
    pub fn new() -> (Self, tokio::sync::mpsc::Receiver<i64>) {
        let (tx, rx) = tokio::sync::mpsc::channel(REQUESTS);
        (Self(tx), rx)
    }

    /// False when too many asks are waiting already.
    pub fn request(&self, installation_id: i64) -> bool {
        self.0.try_send(installation_id).is_ok()
    }
}

/// What the passes share.
#[derive(Clone)]
pub struct Healing {
    pub db: DatabaseConnection,
    pub github: GithubSlot,
    pub nudge: Nudge,
    pub auto_select: AutoSelect,
    /// Names this process in the lease rows.
    pub holder: String,
    /// Counted after each pass, whatever its outcome.
    pub passes: Passes,
}

impl Healing {
    pub fn new(
        db: DatabaseConnection,
        github: GithubSlot,
        nudge: Nudge,
        auto_select: AutoSelect,
        passes: Passes,
    ) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "hubsync".into());
        let mut tag = [0u8; 4];
        // Two apps in one process (tests) must not share a holder id.
        let _ = getrandom::fill(&mut tag);
        let holder = format!("{host}:{}:{}", std::process::id(), hex::encode(tag));
        Self {
            db,
            github,
            nudge,
            auto_select,
            holder,
            passes,
        }
    }
}

/// Takes the lease of `kind`, runs `body` with the pass's row (its cursor), records how it
/// ended. None: another replica holds the lease, or a rate-limit pause is on.
pub(crate) async fn leased<F, Fut>(
    h: &Healing,
    kind: PassKind,
    body: F,
) -> Result<Option<Finished>, DbErr>
where
    F: FnOnce(background_passes::Model) -> Fut,
    Fut: std::future::Future<Output = Finished>,
{
    let ttl = chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(5));
    let Some(row) = passes::try_lease(&h.db, kind, &h.holder, ttl, Utc::now()).await? else {
        return Ok(None);
    };
    let finished = body(row).await;
    passes::finish(&h.db, kind, &h.holder, Utc::now(), finished.clone()).await?;
    Ok(Some(finished))
}

/// A rate limit answer as a pause: when the pass may run again.
pub(crate) fn pause_for(e: &GithubError) -> Option<chrono::DateTime<Utc>> {
    match e {
        GithubError::RateLimited { retry_after, .. } => {
            let wait = retry_after.unwrap_or(Duration::from_secs(60));
            Some(
                Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)),
            )
        }
        _ => None,
    }
}

/// Until shutdown: each pass at start-up, then every `every` (zero: that pass is off).
/// Installations asked for through `InstallRequests` are reconciled as they come, whatever the
/// schedule.
pub async fn run(
    h: Healing,
    redelivery_every: Duration,
    reconcile_every: Duration,
    mut asked: tokio::sync::mpsc::Receiver<i64>,
    shutdown: CancellationToken,
) {
    let mut next_redelivery = (!redelivery_every.is_zero()).then(Instant::now);
    let mut next_reconcile = (!reconcile_every.is_zero()).then(Instant::now);
    loop {
        let mut wake = Instant::now() + RECHECK;
        if let Some(app) = h.github.app() {
            // Installations first: a redelivered push then finds its repository known.
            if let Some(due) = next_reconcile {
                next_reconcile =
                    Some(step(&h, &app, due, reconcile_every, PassKind::Installations).await);
            }
            if let Some(due) = next_redelivery {
                next_redelivery =
                    Some(step(&h, &app, due, redelivery_every, PassKind::Redelivery).await);
            }
            for due in [next_reconcile, next_redelivery].into_iter().flatten() {
                wake = wake.min(due);
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(wake) => {}
            Some(id) = asked.recv() => reconcile_asked(&h, id).await,
        }
    }
}

async fn reconcile_asked(h: &Healing, installation_id: i64) {
    let Some(app) = h.github.app() else { return };
    let result = installations::reconcile_one(h, &app, installation_id).await;
    h.passes.done();
    match result {
        Ok(n) => tracing::info!(
            installation = installation_id,
            changes = n,
            "installation looked at on its installer's return"
        ),
        Err(e) => tracing::warn!(
            installation = installation_id,
            error = %e,
            "looking at the installation failed (the scheduled pass will try again)"
        ),
    }
}

/// Runs the pass if it is due; returns when it is due next.
async fn step(
    h: &Healing,
    app: &Arc<GithubApp>,
    due: Instant,
    every: Duration,
    kind: PassKind,
) -> Instant {
    let now = Instant::now();
    if now < due {
        return due;
    }
    let ran = match kind {
        PassKind::Redelivery => redelivery::pass(h, app).await,
        PassKind::Installations => installations::pass(h, app).await,
    };
    h.passes.done();
    match ran {
        Ok(Some(f)) => {
            if let Some(e) = &f.error {
                tracing::warn!(pass = kind.as_str(), outcome = %f.outcome, error = %e, "self-healing pass stopped");
            } else {
                tracing::info!(pass = kind.as_str(), outcome = %f.outcome, "self-healing pass done");
            }
            now + every
        }
        // Another replica runs it, or GitHub asked to wait: look again soon.
        Ok(None) => now + every.min(RECHECK),
        Err(e) => {
            tracing::warn!(pass = kind.as_str(), error = %e, "self-healing pass failed");
            now + every.min(RECHECK)
        }
    }
}
