//! Self-healing: compare every selected branch's stored head with GitHub's and queue a run where
//! they differ, so a missed webhook costs a delay, never a stale copy. The same background task
//! looks up what webhooks leave out (default branches, the branches a pattern matches) after
//! every processed delivery.
use std::{sync::Arc, time::Duration};

use sea_orm::DbErr;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    backfill,
    backoff::Backoff,
    discover::discover,
    intake,
    patterns::{self, Which},
    worker::Workers,
};
use crate::{
    git::Sha,
    github::{GithubApp, GithubError, RepoName},
    store::{projects, runs},
};

/// How long the task sleeps when nothing wakes it: work another replica stored (which does not
/// notify this process) is looked at within this.
const IDLE: Duration = Duration::from_secs(60);

/// One pass over every active project: patterns relisted, then each branch's head compared.
/// Returns how many runs it queued.
pub(crate) async fn reconcile_once(
    workers: &Workers,
    app: &Arc<GithubApp>,
    lookups: &mut Backoff,
) -> Result<usize, DbErr> {
    let db = &workers.db;
    let mut queued = patterns::expand(workers, app, lookups, Which::All).await?;
    for p in projects::load_all(db).await? {
        if p.stopped_because().is_some() {
            continue;
        }
        let Ok(repo) = RepoName::parse(&p.repository.full_name) else {
            continue;
        };
        let client = app.installation(p.installation.id);
        for sel in p
            .selections
            .iter()
            .filter(|s| s.enabled && !s.is_pattern && s.deleted_at.is_none())
        {
            let busy = runs::is_busy(db, sel.id).await?;
            let Some(branch) = sel.branch_name() else {
                continue;
            };
            if busy {
                continue;
            }
            let head: Option<Sha> = match client.branch_head(&repo, &branch).await {
                Ok(h) => Some(h.commit),
                // Gone on GitHub: a run notices and marks the branch deleted.
                Err(GithubError::NotFound { .. }) => None,
                Err(e) => {
                    tracing::warn!(error = %e, repo = %repo, branch = %branch, "reconcile could not read the branch head");
                    continue;
                }
            };
            if head.as_ref().map(Sha::as_str) != sel.last_synced_sha.as_deref() {
                let txn = crate::store::begin_write(db).await?;
                let trigger = runs::Trigger::Reconcile;
                intake::enqueue(&txn, p.project.id, sel, trigger, head.as_ref()).await?;
                txn.commit().await?;
                queued += 1;
            }
        }
    }
    if queued > 0 {
        workers.wake.notify_waiters();
    }
    Ok(queued)
}

/// Until shutdown: at start, queues the branches whose skipped files the size limit now allows;
/// reconciles at start and then every `reconcile_interval` on a fixed schedule (deliveries do not
/// push it back); after every processed delivery (`Workers::discover` is notified), and when a
/// failed lookup's backoff is over, looks up default branches and pending patterns.
pub async fn run(workers: Workers, shutdown: CancellationToken) {
    let period = workers.settings.reconcile_interval;
    let mut lookups = Backoff::new(workers.settings.lookup_retry);
    match backfill::queue_allowed(&workers).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            branches = n,
            "queued branches whose skipped files are now within the size limit"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "looking for skipped files the size limit now allows failed")
        }
    }
    let mut next_reconcile = Instant::now();
    loop {
        let mut wake_at = Instant::now() + IDLE;
        if let Some(app) = workers.github.app() {
            if let Err(e) = discover(&workers, &app, &mut lookups).await {
                tracing::warn!(error = %e, "discovering default branches failed");
            }
            if let Err(e) = patterns::expand(&workers, &app, &mut lookups, Which::Pending).await {
                tracing::warn!(error = %e, "listing the branches of new patterns failed");
            }
            if !period.is_zero() {
                let now = Instant::now();
                if now >= next_reconcile {
                    next_reconcile = now + period;
                    match reconcile_once(&workers, &app, &mut lookups).await {
                        Ok(n) => tracing::info!(queued = n, "reconcile pass done"),
                        Err(e) => tracing::warn!(error = %e, "reconcile pass failed"),
                    }
                }
                wake_at = wake_at.min(next_reconcile);
            }
            if let Some(due) = lookups.next_due(Instant::now()) {
                wake_at = wake_at.min(due);
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = workers.discover.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
}
