//! Which commits a branch's synced heads contain, from what push deliveries said (no GitHub
//! call): a push's listed commits and, unless it was forced, its `before` are contained in its
//! `after`. Wait-until-synced follows these rows from a commit up to a head a run synced.
use std::collections::HashSet;

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{
    entities::{pushed_commits, sync_runs},
    runs,
};
use crate::{
    git::{BranchName, Sha},
    ids::RepositoryId,
};

/// Shas looked up per step, and steps at most: a chain of 64 pushes back from the newest head.
const CHUNK: usize = 500;
const MAX_STEPS: usize = 64;

/// Records what a push says about `after`.
pub(crate) async fn record_push(
    db: &impl ConnectionTrait,
    repository_id: i64,
    branch: &BranchName,
    after: &Sha,
    before: Option<&str>,
    forced: bool,
    commits: impl Iterator<Item = String>,
) -> Result<(), DbErr> {
    let before = before
        .filter(|_| !forced)
        .and_then(|b| Sha::parse(b).ok())
        .filter(|b| !b.is_zero());
    let mut shas: Vec<Sha> = commits
        .filter_map(|c| Sha::parse(&c).ok())
        .chain(before)
        .filter(|s| s != after)
        .collect();
    shas.sort();
    shas.dedup();
    if shas.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let rows = shas.into_iter().map(|sha| pushed_commits::ActiveModel {
        repository_id: Set(repository_id),
        branch: Set(branch.clone()),
        sha: Set(sha),
        head_sha: Set(after.clone()),
        created_at: Set(now),
        ..Default::default()
    });
    pushed_commits::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A run of this branch that synced `sha` or a head containing it: (that head, the run's id).
pub async fn synced_head(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    repository_id: RepositoryId,
    branch: &BranchName,
    sha: &Sha,
) -> Result<Option<(Sha, i64)>, DbErr> {
    let mut frontier = vec![sha.clone()];
    let mut seen: HashSet<Sha> = frontier.iter().cloned().collect();
    for _ in 0..MAX_STEPS {
        if let Some(found) = synced_run(db, project_sync_id, &frontier).await? {
            return Ok(Some(found));
        }
        let mut next = Vec::new();
        for chunk in frontier.chunks(CHUNK) {
            let rows = pushed_commits::Entity::find()
                .filter(pushed_commits::Column::RepositoryId.eq(repository_id.0))
                .filter(pushed_commits::Column::Branch.eq(branch.clone()))
                .filter(pushed_commits::Column::Sha.is_in(chunk.iter().cloned()))
                .all(db)
                .await?;
            next.extend(rows.into_iter().map(|r| r.head_sha));
        }
        next.retain(|h| seen.insert(h.clone()));
        if next.is_empty() {
            return Ok(None);
        }
        frontier = next;
    }
    Ok(None)
}

async fn synced_run(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    heads: &[Sha],
) -> Result<Option<(Sha, i64)>, DbErr> {
    for chunk in heads.chunks(CHUNK) {
        let run = sync_runs::Entity::find()
            .filter(sync_runs::Column::ProjectSyncId.eq(project_sync_id))
            .filter(sync_runs::Column::Status.eq(runs::RunStatus::Succeeded))
            .filter(sync_runs::Column::TargetSha.is_in(chunk.iter().cloned()))
            .order_by_asc(sync_runs::Column::Id)
            .one(db)
            .await?;
        if let Some(run) = run {
            return Ok(run.target_sha.map(|h| (h, run.id)));
        }
    }
    Ok(None)
}

/// Deletes what pushes older than `retention` said.
pub async fn prune(
    db: &impl ConnectionTrait,
    retention: std::time::Duration,
) -> Result<u64, DbErr> {
    let cutoff =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    Ok(pushed_commits::Entity::delete_many()
        .filter(pushed_commits::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}
