//! The one interface through which the webhook layer hands work to the sync layer.
//!
//! Webhook processing calls `signal` inside the transaction that marks the delivery processed,
//! so a delivery's effect on the queue and its status commit together.
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    git::{BranchName, Sha},
    progress::{self, ProgressEvent},
    store::{
        entities::project_syncs,
        repositories,
        runs::{self, Trigger},
        selections,
    },
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncSignal {
    /// Repositories became visible to an installation (installation created, repositories added).
    RepositoriesAdded {
        installation_id: i64,
        repository_ids: Vec<i64>,
    },
    /// Repositories are no longer visible (removed from the installation, deleted): stop syncing,
    /// keep their data.
    RepositoriesRemoved {
        installation_id: i64,
        repository_ids: Vec<i64>,
    },
    /// The installation was deleted or suspended: stop its syncs, keep their data.
    InstallationStopped { installation_id: i64 },
    /// The installation was unsuspended: resume its syncs.
    InstallationResumed { installation_id: i64 },
    /// A repository's default branch changed.
    DefaultBranchChanged {
        repository_id: i64,
        branch: BranchName,
    },
    /// A push to a branch (also a force push); `head` is the pushed `after` sha.
    BranchPushed {
        repository_id: i64,
        branch: BranchName,
        head: Sha,
    },
    BranchCreated {
        repository_id: i64,
        branch: BranchName,
        head: Option<Sha>,
    },
    BranchDeleted {
        repository_id: i64,
        branch: BranchName,
    },
}

/// Which branches a newly visible repository starts with (`HUBSYNC_AUTO_SELECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoSelect {
    #[default]
    DefaultBranch,
    Nothing,
}

/// Applies a signal to the sync state: projects, selections, queued runs and their events.
pub async fn signal(
    db: &impl ConnectionTrait,
    auto_select: AutoSelect,
    signal: SyncSignal,
) -> Result<(), DbErr> {
    tracing::debug!(?signal, "sync signal");
    match signal {
        SyncSignal::RepositoriesAdded { repository_ids, .. } => {
            for id in repository_ids {
                let Some(repo) = repositories::find(db, id).await? else {
                    continue;
                };
                let project = selections::ensure_project(db, id).await?;
                let existing = selections::selections(db, project.id).await?;
                if existing.is_empty() && auto_select == AutoSelect::DefaultBranch {
                    if let Ok(branch) = BranchName::parse(&repo.default_branch) {
                        let sel =
                            selections::enable(db, project.id, branch.as_str(), false).await?;
                        enqueue(db, project.id, &sel, Trigger::Install, None).await?;
                    }
                } else {
                    // Visible again after a removal: catch up with whatever happened meanwhile.
                    catch_up(db, project.id, &existing).await?;
                }
            }
        }
        SyncSignal::RepositoriesRemoved { repository_ids, .. } => {
            for id in repository_ids {
                supersede_queued_of_repository(db, id).await?;
            }
        }
        SyncSignal::InstallationStopped { installation_id } => {
            for repo in repositories::of_installation(db, installation_id).await? {
                supersede_queued_of_repository(db, repo.id).await?;
            }
        }
        SyncSignal::InstallationResumed { installation_id } => {
            for repo in repositories::of_installation(db, installation_id)
                .await?
                .into_iter()
                .filter(|r| r.removed_at.is_none())
            {
                let Some(project) = selections::project_of_repository(db, repo.id).await? else {
                    continue;
                };
                let existing = selections::selections(db, project.id).await?;
                catch_up(db, project.id, &existing).await?;
            }
        }
        SyncSignal::DefaultBranchChanged {
            repository_id,
            branch,
        } => {
            let Some(project) = selections::project_of_repository(db, repository_id).await? else {
                return Ok(());
            };
            if auto_select == AutoSelect::DefaultBranch {
                let before = selections::selection_for_branch(db, project.id, &branch).await?;
                if before.is_none() {
                    let sel = selections::enable(db, project.id, branch.as_str(), false).await?;
                    enqueue(db, project.id, &sel, Trigger::Selection, None).await?;
                }
            }
        }
        SyncSignal::BranchPushed {
            repository_id,
            branch,
            head,
            ..
        } if head.is_zero() => {
            branch_deleted(db, repository_id, &branch).await?;
        }
        SyncSignal::BranchPushed {
            repository_id,
            branch,
            head,
            ..
        } => {
            branch_changed(db, repository_id, &branch, Some(&head), Trigger::Push).await?;
        }
        SyncSignal::BranchCreated {
            repository_id,
            branch,
            head,
        } => {
            branch_changed(db, repository_id, &branch, head.as_ref(), Trigger::Create).await?;
        }
        SyncSignal::BranchDeleted {
            repository_id,
            branch,
        } => {
            branch_deleted(db, repository_id, &branch).await?;
        }
    }
    Ok(())
}

/// Queues a run of every selected branch that still exists, and lists the patterns' branches
/// again, to catch up after syncing was off.
async fn catch_up(
    db: &impl ConnectionTrait,
    project_id: i64,
    selections: &[project_syncs::Model],
) -> Result<(), DbErr> {
    selections::relist_patterns(db, project_id).await?;
    for sel in selections
        .iter()
        .filter(|s| s.enabled && !s.is_pattern && s.deleted_at.is_none())
    {
        enqueue(db, project_id, sel, Trigger::Reconcile, None).await?;
    }
    Ok(())
}

async fn branch_changed(
    db: &impl ConnectionTrait,
    repository_id: i64,
    branch: &BranchName,
    head: Option<&Sha>,
    trigger: Trigger,
) -> Result<(), DbErr> {
    // An unselected branch costs nothing: no run, no GitHub request.
    if let Some(sel) =
        selections::repository_selection_for_branch(db, repository_id, branch).await?
    {
        enqueue(db, sel.project_id, &sel, trigger, head).await?;
    }
    Ok(())
}

async fn branch_deleted(
    db: &impl ConnectionTrait,
    repository_id: i64,
    branch: &BranchName,
) -> Result<(), DbErr> {
    let Some(project) = selections::project_of_repository(db, repository_id).await? else {
        return Ok(());
    };
    let rows = selections::selections(db, project.id).await?;
    if let Some(sel) = rows
        .iter()
        .find(|s| !s.is_pattern && s.branch == branch.as_str())
    {
        selections::mark_deleted(db, sel.id).await?;
        runs::supersede_queued(db, &[sel.id]).await?;
        let deleted = ProgressEvent::branch_deleted(branch.clone());
        progress::record(db, project.id, &deleted).await?;
    }
    Ok(())
}

/// Queues (or coalesces into) a run of the branch `sel` and records the `queued` event, whose
/// `from_sha` is where the branch stands now.
pub(crate) async fn enqueue(
    db: &impl ConnectionTrait,
    project_id: i64,
    sel: &project_syncs::Model,
    trigger: Trigger,
    target: Option<&Sha>,
) -> Result<runs::Enqueued, DbErr> {
    let branch = sel
        .branch_name()
        .ok_or_else(|| DbErr::Custom(format!("selection {} is a pattern, not a branch", sel.id)))?;
    let queued = runs::enqueue(db, sel.id, trigger, target).await?;
    let event = ProgressEvent::Queued {
        run_id: queued.run.id,
        branch,
        trigger: queued.run.trigger,
        from_sha: sel.last_synced_sha.clone(),
        target_sha: queued.run.target_sha.clone(),
        coalesced: queued.coalesced,
    };
    progress::record(db, project_id, &event).await?;
    Ok(queued)
}

async fn supersede_queued_of_repository(
    db: &impl ConnectionTrait,
    repository_id: i64,
) -> Result<(), DbErr> {
    let Some(project) = selections::project_of_repository(db, repository_id).await? else {
        return Ok(());
    };
    let ids: Vec<i64> = selections::selections(db, project.id)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    runs::supersede_queued(db, &ids).await
}
