//! Self-healing: compare every selected branch's stored head with GitHub's and queue a run where
//! they differ, so a missed webhook costs a delay, never a stale copy.
use std::sync::Arc;

use sea_orm::{sea_query::Expr, ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};
use tokio_util::sync::CancellationToken;

use super::{
    intake::{self, SyncSignal},
    worker::Workers,
};
use crate::{
    git::{BranchName, Sha},
    github::{GithubApp, GithubError, RepoName},
    store::{
        entities::{repositories, sync_runs},
        projects, runs,
    },
};

/// One pass over every active project. Returns how many runs it queued.
pub async fn reconcile_once(workers: &Workers, app: &Arc<GithubApp>) -> Result<usize, DbErr> {
    let db = &workers.db;
    let mut queued = 0;
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
            let busy = sync_runs::Entity::find()
                .filter(sync_runs::Column::ProjectSyncId.eq(sel.id))
                .filter(sync_runs::Column::Status.is_in([runs::QUEUED, runs::RUNNING]))
                .one(db)
                .await?
                .is_some();
            let Ok(branch) = BranchName::parse(&sel.branch) else {
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
                intake::enqueue(
                    &txn,
                    p.project.id,
                    sel,
                    runs::Trigger::Reconcile,
                    head.as_ref(),
                )
                .await?;
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

/// Installation events list repositories without their default branch. For each project whose
/// repository's default branch is still unknown, ask GitHub, store it, and let the auto-selection
/// pick it. Returns how many repositories it completed.
pub async fn discover(workers: &Workers, app: &Arc<GithubApp>) -> Result<usize, DbErr> {
    let db = &workers.db;
    // Runs after every processed delivery: one cheap count before loading every project.
    let incomplete = repositories::Entity::find()
        .filter(repositories::Column::DefaultBranch.eq(""))
        .filter(repositories::Column::RemovedAt.is_null())
        .count(db)
        .await?;
    if incomplete == 0 {
        return Ok(0);
    }
    let mut done = 0;
    for p in projects::load_all(db).await? {
        if !p.repository.default_branch.is_empty() || p.stopped_because().is_some() {
            continue;
        }
        let repo = match app
            .installation(p.installation.id)
            .repository_by_id(p.repository.id)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, repository = p.repository.id, "cannot read the repository's default branch");
                continue;
            }
        };
        let txn = crate::store::begin_write(db).await?;
        repositories::Entity::update_many()
            .col_expr(
                repositories::Column::DefaultBranch,
                Expr::value(repo.default_branch.as_str()),
            )
            .col_expr(
                repositories::Column::FullName,
                Expr::value(repo.full_name.to_string()),
            )
            .filter(repositories::Column::Id.eq(p.repository.id))
            .exec(&txn)
            .await?;
        let added = SyncSignal::RepositoriesAdded {
            installation_id: p.installation.id,
            repository_ids: vec![p.repository.id],
        };
        intake::signal(&txn, workers.settings.auto_select, added).await?;
        txn.commit().await?;
        done += 1;
    }
    if done > 0 {
        workers.wake.notify_waiters();
    }
    Ok(done)
}

/// Reconciles at start and then every `reconcile_interval` until shutdown; discovers default
/// branches whenever new repositories appear (`Workers::discover` is notified).
pub async fn run(workers: Workers, shutdown: CancellationToken) {
    let interval = workers.settings.reconcile_interval;
    let mut full = true;
    loop {
        if let Some(app) = workers.github.app() {
            if let Err(e) = discover(&workers, &app).await {
                tracing::warn!(error = %e, "discovering default branches failed");
            }
            if full && !interval.is_zero() {
                match reconcile_once(&workers, &app).await {
                    Ok(n) => tracing::info!(queued = n, "reconcile pass done"),
                    Err(e) => tracing::warn!(error = %e, "reconcile pass failed"),
                }
            }
        }
        let sleep = if interval.is_zero() {
            workers.settings.poll_interval * 60
        } else {
            interval
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = workers.discover.notified() => full = false,
            _ = tokio::time::sleep(sleep) => full = true,
        }
    }
}
