//! Branch patterns meet the branches that exist: a pattern's matching branches are listed from
//! GitHub when it is selected (its row stays `pending` until then, so a crash or a restart lists
//! it again) and at every timed reconcile (a `create` webhook may have been missed). Each match
//! gets its concrete selection and, unless already synced at that commit, a run. Webhooks cover
//! branches created later. This runs in the background, never in an HTTP handler.
use std::sync::Arc;

use sea_orm::DbErr;
use tokio::time::Instant;

use super::{
    backoff::{Backoff, Lookup},
    intake,
    worker::Workers,
};
use crate::{
    git::Selector,
    github::{BranchRef, GithubApp, RepoName},
    store::{entities::project_syncs, projects, runs::Trigger, selections},
};

/// Which patterns a pass lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    /// Selected (or re-selected) since their last listing, or whose listing failed.
    Pending,
    /// Every enabled pattern: the timed reconcile.
    All,
}

/// Lists the patterns' branches; returns how many runs it queued.
pub(crate) async fn expand(
    workers: &Workers,
    app: &Arc<GithubApp>,
    lookups: &mut Backoff,
    which: Which,
) -> Result<usize, DbErr> {
    let db = &workers.db;
    let trigger = match which {
        Which::Pending => Trigger::Selection,
        Which::All => Trigger::Reconcile,
    };
    let now = Instant::now();
    let mut queued = 0;
    for pattern in selections::enabled_patterns(db, which == Which::Pending).await? {
        let key = Lookup::Branches(pattern.id);
        if lookups.is_waiting(&key, now) {
            continue;
        }
        let Some(p) = projects::load(db, pattern.project_id).await? else {
            continue;
        };
        let (None, Ok(repo), Ok(selector)) = (
            p.stopped_because(),
            RepoName::parse(&p.repository.full_name),
            Selector::parse(&pattern.branch),
        ) else {
            continue;
        };
        match app
            .installation(p.installation.id)
            .list_branches(&repo)
            .await
        {
            Ok(branches) => {
                lookups.succeeded(&key);
                queued += select_matches(workers, &pattern, &selector, &branches, trigger).await?;
            }
            Err(e) => {
                let wait = lookups.failed(key, Instant::now());
                tracing::warn!(error = %e, %repo, pattern = %pattern.branch,
                               retry_in_s = wait.as_secs(), "cannot list the branches a pattern matches");
                selections::set_state(db, pattern.id, selections::SelectionState::Failed).await?;
            }
        }
    }
    if queued > 0 {
        workers.wake.notify_waiters();
    }
    Ok(queued)
}

/// Selects every listed branch the pattern matches and queues a run for each that is not synced
/// at its listed commit; marks the pattern listed. Nothing happens if the pattern was removed
/// while GitHub was asked.
async fn select_matches(
    workers: &Workers,
    pattern: &project_syncs::Model,
    selector: &Selector,
    branches: &[BranchRef],
    trigger: Trigger,
) -> Result<usize, DbErr> {
    let txn = crate::store::begin_write(&workers.db).await?;
    let still = selections::find(&txn, pattern.id)
        .await?
        .is_some_and(|row| row.enabled && row.is_pattern);
    if !still {
        return Ok(0);
    }
    let rows = selections::selections(&txn, pattern.project_id).await?;
    let mut queued = 0;
    for b in branches.iter().filter(|b| selector.matches(&b.name)) {
        let existing = rows
            .iter()
            .find(|r| !r.is_pattern && r.branch == b.name.as_str());
        let sel = match existing {
            Some(row) if row.enabled && row.deleted_at.is_none() => row.clone(),
            _ => selections::enable(&txn, pattern.project_id, b.name.as_str(), false).await?,
        };
        if sel.last_synced_sha.as_deref() != Some(b.commit.as_str()) {
            intake::enqueue(&txn, pattern.project_id, &sel, trigger, Some(&b.commit)).await?;
            queued += 1;
        }
    }
    selections::mark_listed(&txn, pattern.id).await?;
    txn.commit().await?;
    if queued > 0 {
        workers.hub.poke();
    }
    Ok(queued)
}
