//! The reads a non-admin caller reaches (projects, manifests, files, run history and one run,
//! progress events, the change feed, trees at a synced commit, whether a commit is synced, files
//! without content), each in a transaction limited to the caller's `Scope`: PostgreSQL's
//! row-level security applies it; on SQLite `Limit` does. The handlers' own checks (http/visibility.rs) come first;
//! this is the second line, for a query that would otherwise return too much.
use std::collections::{BTreeMap, HashMap};

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use crate::{
    git::{BranchName, Sha},
    ids::{ProjectId, RepositoryId},
};

use super::{
    attempts,
    changes::{self, Version},
    commits,
    entities::{files, sync_events, sync_run_attempts, sync_runs},
    events, head_commits, manifests,
    projects::{self, ProjectRecord},
    runs,
    scope::{self, Limit, Scope},
    skipped::{self, Skipped},
    snapshots::{self, Unavailable},
};

/// Every project within the scope.
pub async fn projects(db: &DatabaseConnection, scope: &Scope) -> Result<Vec<ProjectRecord>, DbErr> {
    let txn = scope::begin(db, scope).await?;
    let limit = Limit::of(&txn, scope).await?;
    let mut all = projects::load_all(&txn).await?;
    txn.commit().await?;
    if let Some(l) = limit {
        all.retain(|p| l.projects.contains(&p.project.id));
    }
    Ok(all)
}

/// The project, if it is within the scope.
pub async fn project(
    db: &DatabaseConnection,
    scope: &Scope,
    id: i64,
) -> Result<Option<ProjectRecord>, DbErr> {
    let txn = scope::begin(db, scope).await?;
    let limit = Limit::of(&txn, scope).await?;
    let p = projects::load(&txn, id).await?;
    txn.commit().await?;
    Ok(p.filter(|_| limit.is_none_or(|l| l.projects.contains(&id))))
}

/// A branch's manifest with each entry's skip reason; empty outside the scope.
pub async fn manifest(
    db: &DatabaseConnection,
    scope: &Scope,
    project_sync_id: i64,
) -> Result<Vec<(files::Model, Option<Skipped>)>, DbErr> {
    let Some(txn) = begin_for_branch(db, scope, project_sync_id).await? else {
        return Ok(Vec::new());
    };
    let rows = skipped::manifest(&txn, project_sync_id).await?;
    txn.commit().await?;
    Ok(rows)
}

/// One file of a branch's manifest, if it is within the scope.
pub async fn file(
    db: &DatabaseConnection,
    scope: &Scope,
    project_sync_id: i64,
    path: &str,
) -> Result<Option<files::Model>, DbErr> {
    let Some(txn) = begin_for_branch(db, scope, project_sync_id).await? else {
        return Ok(None);
    };
    let f = manifests::file(&txn, project_sync_id, path).await?;
    txn.commit().await?;
    Ok(f)
}

/// Run history of these branches, newest first, with each run's attempts.
pub type History = (
    Vec<sync_runs::Model>,
    HashMap<i64, Vec<sync_run_attempts::Model>>,
);

pub async fn history(
    db: &DatabaseConnection,
    scope: &Scope,
    project_sync_ids: &[i64],
    limit: u64,
) -> Result<History, DbErr> {
    let txn = scope::begin(db, scope).await?;
    let within = Limit::of(&txn, scope).await?;
    let ids: Vec<i64> = project_sync_ids
        .iter()
        .copied()
        .filter(|id| within.as_ref().is_none_or(|l| l.syncs.contains(id)))
        .collect();
    let runs = runs::history(&txn, &ids, limit).await?;
    let run_ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    let attempts = attempts::of_runs(&txn, &run_ids).await?;
    txn.commit().await?;
    Ok((runs, attempts))
}

/// A page of the change feed: only the scope's rows, the cursor as `changes::page` gives it.
pub async fn changes(
    db: &DatabaseConnection,
    scope: &Scope,
    after: i64,
    project_id: Option<crate::ids::ProjectId>,
    limit: u64,
) -> Result<changes::Page, DbErr> {
    let txn = scope::begin(db, scope).await?;
    let within = Limit::of(&txn, scope).await?;
    let mut page = changes::page(&txn, after, project_id, limit).await?;
    txn.commit().await?;
    if let Some(l) = within {
        page.rows.retain(|c| l.projects.contains(&c.project_id));
    }
    Ok(page)
}

/// The synced head that contains `sha` and the run that synced it (`commits::synced_head`); not
/// synced outside the scope.
pub async fn synced_head(
    db: &DatabaseConnection,
    scope: &Scope,
    project_sync_id: i64,
    repository_id: RepositoryId,
    branch: &BranchName,
    sha: &Sha,
) -> Result<Option<(Sha, i64)>, DbErr> {
    let Some(txn) = begin_for_branch(db, scope, project_sync_id).await? else {
        return Ok(None);
    };
    let found = commits::synced_head(&txn, project_sync_id, repository_id, branch, sha).await?;
    txn.commit().await?;
    Ok(found)
}

/// A branch's tree at a synced commit (`snapshots::tree_at`); not synced outside the scope.
pub async fn tree_at(
    db: &DatabaseConnection,
    scope: &Scope,
    project_sync_id: i64,
    sha: &str,
) -> Result<Result<BTreeMap<String, Version>, Unavailable>, DbErr> {
    let Some(txn) = begin_for_branch(db, scope, project_sync_id).await? else {
        return Ok(Err(Unavailable::NotSynced));
    };
    let tree = snapshots::tree_at(&txn, project_sync_id, sha).await?;
    txn.commit().await?;
    Ok(tree)
}

/// A read transaction in `scope` for one branch's rows; None (nothing read) when the store must
/// filter (SQLite) and the branch is outside the scope.
async fn begin_for_branch(
    db: &DatabaseConnection,
    scope: &Scope,
    project_sync_id: i64,
) -> Result<Option<DatabaseTransaction>, DbErr> {
    let txn = scope::begin(db, scope).await?;
    let outside = Limit::of(&txn, scope)
        .await?
        .is_some_and(|l| !l.syncs.contains(&project_sync_id));
    Ok((!outside).then_some(txn))
}

/// One run as its page shows it: the run, its attempts, its progress rows (`events::of_run`) and
/// the commit it synced to, when known.
pub struct RunDetail {
    pub run: sync_runs::Model,
    pub attempts: Vec<sync_run_attempts::Model>,
    pub events: Vec<sync_events::Model>,
    pub commit: Option<head_commits::Model>,
}

/// The run, if it is within the scope (`repository_id`: its project's repository, for the
/// commit's message).
pub async fn run(
    db: &DatabaseConnection,
    scope: &Scope,
    run_id: i64,
    repository_id: RepositoryId,
) -> Result<Option<RunDetail>, DbErr> {
    let txn = scope::begin(db, scope).await?;
    let within = Limit::of(&txn, scope).await?;
    let run = runs::get(&txn, run_id)
        .await?
        .filter(|r| within.is_none_or(|l| l.syncs.contains(&r.project_sync_id)));
    let Some(run) = run else {
        return Ok(None);
    };
    let attempts = attempts::of_runs(&txn, &[run.id])
        .await?
        .remove(&run.id)
        .unwrap_or_default();
    let events = events::of_run(&txn, run.id).await?;
    let commit = match &run.target_sha {
        Some(sha) => head_commits::find(&txn, repository_id.0, sha.as_str()).await?,
        None => None,
    };
    txn.commit().await?;
    Ok(Some(RunDetail {
        run,
        attempts,
        events,
        commit,
    }))
}

/// A page of stored progress rows (`events::replay`) with only the scope's rows kept; `read`:
/// how many rows the page read before that, and the last id read (the next page starts after
/// it, so rows left out never end a replay early).
pub struct EventPage {
    pub rows: Vec<sync_events::Model>,
    pub read: usize,
    pub last: Option<i64>,
}

pub async fn events(
    db: &DatabaseConnection,
    scope: &Scope,
    project_id: Option<ProjectId>,
    after: i64,
    upto: i64,
    limit: u64,
) -> Result<EventPage, DbErr> {
    let txn = scope::begin(db, scope).await?;
    let within = Limit::of(&txn, scope).await?;
    let mut rows = events::replay(&txn, project_id, after, upto, limit).await?;
    txn.commit().await?;
    let (read, last) = (rows.len(), rows.last().map(|r| r.id));
    if let Some(l) = within {
        rows.retain(|r| l.projects.contains(&r.project_id));
    }
    Ok(EventPage { rows, read, last })
}

/// Per branch, how many manifest entries have no content, by reason (`skipped::counts`); the
/// branches with none, and those outside the scope, are left out.
pub async fn skipped_counts(
    db: &DatabaseConnection,
    scope: &Scope,
    project_sync_ids: &[i64],
) -> Result<Vec<(i64, BTreeMap<Skipped, i64>)>, DbErr> {
    let txn = scope::begin(db, scope).await?;
    let within = Limit::of(&txn, scope).await?;
    let mut out = Vec::new();
    for &id in project_sync_ids {
        if within.as_ref().is_none_or(|l| l.syncs.contains(&id)) {
            let counts = skipped::counts(&txn, id).await?;
            if !counts.is_empty() {
                out.push((id, counts));
            }
        }
    }
    txn.commit().await?;
    Ok(out)
}
