//! A branch's tree as a run synced it, from stored data alone: the current manifest with the
//! feed's later changes undone, newest first. Blobs are content-addressed, so an old tree costs
//! rows to compute, not copies.
use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::{
    changes::{self, as_versions, ChangeKind, Version},
    entities::{changes as rows, sync_runs},
    manifests, runs,
};
use crate::ids::RunId;

/// Why a tree cannot be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// No successful run of this branch synced that commit.
    NotSynced,
    /// The changes since were pruned (or recorded before the feed existed).
    Pruned,
}

/// The newest successful run of this branch that synced `sha`.
pub(crate) async fn run_at(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    sha: &str,
) -> Result<Option<sync_runs::Model>, DbErr> {
    sync_runs::Entity::find()
        .filter(sync_runs::Column::ProjectSyncId.eq(project_sync_id))
        .filter(sync_runs::Column::Status.eq(runs::RunStatus::Succeeded))
        .filter(sync_runs::Column::TargetSha.eq(sha))
        .order_by_desc(sync_runs::Column::Id)
        .one(db)
        .await
}

/// The tree at `sha`: path -> version.
pub async fn tree_at(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    sha: &str,
) -> Result<Result<BTreeMap<String, Version>, Unavailable>, DbErr> {
    let Some(run) = run_at(db, project_sync_id, sha).await? else {
        return Ok(Err(Unavailable::NotSynced));
    };
    // The first later run that changed files must still have its rows: pruning goes oldest first.
    let first_later = sync_runs::Entity::find()
        .filter(sync_runs::Column::ProjectSyncId.eq(project_sync_id))
        .filter(sync_runs::Column::Status.eq(runs::RunStatus::Succeeded))
        .filter(sync_runs::Column::Id.gt(run.id))
        .filter(sync_runs::Column::FilesChanged.gt(0))
        .order_by_asc(sync_runs::Column::Id)
        .one(db)
        .await?;
    if let Some(later) = first_later {
        let kept = rows::Entity::find()
            .filter(rows::Column::RunId.eq(later.id))
            .one(db)
            .await?;
        if kept.is_none() {
            return Ok(Err(Unavailable::Pruned));
        }
    }
    let mut tree = as_versions(&manifests::manifest(db, project_sync_id).await?);
    let later =
        changes::of_branch_between(db, project_sync_id, RunId(run.id), RunId(i64::MAX)).await?;
    for c in later.iter().rev() {
        let previous = c.previous_blob_sha.clone().map(|sha| Version {
            sha,
            mode: c
                .previous_mode
                .clone()
                .or(c.mode.clone())
                .unwrap_or_default(),
            size: c.previous_size,
        });
        match c.change {
            ChangeKind::Added => {
                tree.remove(&c.path);
            }
            ChangeKind::Modified | ChangeKind::Deleted => {
                if let Some(v) = previous {
                    tree.insert(c.path.clone(), v);
                }
            }
            ChangeKind::Renamed => {
                tree.remove(&c.path);
                if let (Some(from), Some(v)) = (&c.previous_path, previous) {
                    tree.insert(from.clone(), v);
                }
            }
        }
    }
    Ok(Ok(tree))
}
