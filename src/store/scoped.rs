//! The reads a non-admin caller reaches (projects, manifests, files, run history, the change
//! feed, trees at a synced commit, whether a commit is synced), each in a transaction limited to the caller's `Scope`: PostgreSQL's row-level security
//! applies it; on SQLite `Limit` does. The handlers' own checks (http/visibility.rs) come first;
//! this is the second line, for a query that would otherwise return too much.
use std::collections::{BTreeMap, HashMap};

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use crate::{
    git::{BranchName, Sha},
    ids::RepositoryId,
};

use super::{
    attempts,
    changes::{self, Version},
    commits,
    entities::{files, sync_run_attempts, sync_runs},
    manifests,
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
