//! The change feed: `changes` rows, appended in the transaction that swaps a branch's manifest,
//! read forward by id (the cursor), pruned after the retention.
//!
//! A cursor must never pass an id whose transaction has not committed yet: on PostgreSQL ids are
//! drawn before commit, so B could commit id 11 while A still holds 10, and a reader that moved to
//! 11 would never see 10. The progress tailer (src/progress/tail.rs) settles such gaps over time
//! because every transaction writes events; feed rows are written once per run, as the last step
//! of its swap, so here the append point is serialised instead: a transaction-scoped advisory lock
//! is taken just before the rows draw their ids and held until commit. Ids then become visible in
//! id order, and any id a reader sees bounds every id that will ever commit below it. SQLite has
//! one writer at a time and needs nothing.
mod diff;

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{
    sea_query::OnConflict, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

pub use diff::{diff, ChangeKind, FileChange, Version};

use super::{
    entities::{changes, changes_horizon, files},
    manifests::{self, Entry},
};
use crate::{
    git::{BranchName, Sha},
    ids::{ProjectId, RunId},
};

/// `pg_advisory_xact_lock` key of the feed's append point ("hubsync changes").
const APPEND_LOCK: i64 = 0x6875_6273_6368_6701;
/// Rows per INSERT: 18 values each, well under both engines' bind-parameter limits.
const CHUNK: usize = 500;

/// The run whose changes are appended.
pub struct RunInfo<'a> {
    pub project_id: ProjectId,
    pub project_sync_id: i64,
    pub run_id: RunId,
    pub repository: &'a str,
    pub branch: &'a BranchName,
    pub commit_sha: &'a Sha,
}

/// How many paths changed, per kind (in the outbox's bodies too, keys in this order).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub added: u64,
    pub deleted: u64,
    pub modified: u64,
    pub renamed: u64,
}

pub(crate) fn as_versions(old: &[files::Model]) -> BTreeMap<String, Version> {
    old.iter()
        .map(|f| {
            let v = Version {
                sha: f.blob_sha.clone(),
                mode: f.mode.clone(),
                size: f.size,
            };
            (f.path.clone(), v)
        })
        .collect()
}

fn entries_as_versions(new: &[Entry]) -> BTreeMap<String, Version> {
    new.iter()
        .map(|e| {
            let v = Version {
                sha: e.sha.clone(),
                mode: e.mode.clone(),
                size: e.size,
            };
            (e.path.clone(), v)
        })
        .collect()
}

/// Appends the changes from manifest `old` to `new`. Call it inside the swap transaction, as its
/// last write: on PostgreSQL it holds the feed's append lock until that transaction ends.
pub async fn append(
    txn: &impl ConnectionTrait,
    run: &RunInfo<'_>,
    old: &[files::Model],
    new: &[Entry],
) -> Result<Counts, DbErr> {
    append_changes(
        txn,
        run,
        &diff(&as_versions(old), &entries_as_versions(new)),
    )
    .await
}

/// Applies `changes` (from the stored manifest to the new one) to the stored manifest, touching
/// only their rows. Call it inside the swap transaction, as `manifests::replace_manifest`.
pub(crate) async fn apply_to_manifest(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    changes: &[FileChange],
) -> Result<(), DbErr> {
    let removed: Vec<String> = changes
        .iter()
        .filter_map(|c| match c.kind {
            ChangeKind::Added => None,
            ChangeKind::Modified | ChangeKind::Deleted => Some(c.path.clone()),
            ChangeKind::Renamed => c.previous_path.clone(),
        })
        .collect();
    let written: Vec<Entry> = changes
        .iter()
        .filter_map(|c| {
            let v = c.new.as_ref()?;
            Some(Entry {
                path: c.path.clone(),
                sha: v.sha.clone(),
                mode: v.mode.clone(),
                size: v.size,
            })
        })
        .collect();
    let written: Vec<&Entry> = written.iter().collect();
    manifests::edit(db, project_sync_id, &removed, &written).await
}

/// Appends these changes (as `diff` gives them), with the same rules as `append`.
pub(crate) async fn append_changes(
    txn: &impl ConnectionTrait,
    run: &RunInfo<'_>,
    changed: &[FileChange],
) -> Result<Counts, DbErr> {
    let mut counts = Counts::default();
    if changed.is_empty() {
        return Ok(counts);
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [APPEND_LOCK.into()],
        ))
        .await?;
    }
    let now = Utc::now();
    for c in changed {
        match c.kind {
            ChangeKind::Added => counts.added += 1,
            ChangeKind::Modified => counts.modified += 1,
            ChangeKind::Deleted => counts.deleted += 1,
            ChangeKind::Renamed => counts.renamed += 1,
        }
    }
    for chunk in changed.chunks(CHUNK) {
        let rows = chunk.iter().map(|c| {
            let current = c.new.as_ref().or(c.old.as_ref());
            changes::ActiveModel {
                project_id: Set(run.project_id.0),
                project_sync_id: Set(run.project_sync_id),
                run_id: Set(run.run_id.0),
                repository: Set(run.repository.to_owned()),
                branch: Set(run.branch.clone()),
                commit_sha: Set(run.commit_sha.clone()),
                path: Set(c.path.clone()),
                change: Set(c.kind),
                previous_path: Set(c.previous_path.clone()),
                blob_sha: Set(c.new.as_ref().map(|v| v.sha.clone())),
                previous_blob_sha: Set(c.old.as_ref().map(|v| v.sha.clone())),
                mode: Set(current.map(|v| v.mode.clone())),
                previous_mode: Set(c.old.as_ref().map(|v| v.mode.clone())),
                size: Set(c.new.as_ref().and_then(|v| v.size)),
                previous_size: Set(c.old.as_ref().and_then(|v| v.size)),
                created_at: Set(now),
                ..Default::default()
            }
        });
        changes::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(counts)
}

/// The newest cursor: inside a run's swap transaction, after `append`, the cursor of its last
/// change (the append lock keeps other runs' rows out until it commits).
pub(crate) async fn last_cursor(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let high: Option<i64> = changes::Entity::find()
        .select_only()
        .column_as(changes::Column::Id.max(), "high")
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    Ok(high.unwrap_or(0))
}

/// A page of the feed.
pub struct Page {
    pub rows: Vec<changes::Model>,
    /// Where the next read starts: past every row returned, and past rows of other projects.
    pub next: i64,
}

/// The rows after `after` (of one project, or all), oldest first, at most `limit`.
pub async fn page(
    db: &impl ConnectionTrait,
    after: i64,
    project_id: Option<ProjectId>,
    limit: u64,
) -> Result<Page, DbErr> {
    // The newest id first, then the rows up to it: every id at or below a visible one has
    // committed (see the module comment), so the next read may start there even when this page
    // is filtered to one project.
    let high: Option<i64> = changes::Entity::find()
        .select_only()
        .column_as(changes::Column::Id.max(), "high")
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let high = high.unwrap_or(0).max(after);
    let mut q = changes::Entity::find()
        .filter(changes::Column::Id.gt(after))
        .filter(changes::Column::Id.lte(high));
    if let Some(p) = project_id {
        q = q.filter(changes::Column::ProjectId.eq(p.0));
    }
    let rows = q
        .order_by_asc(changes::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let next = match rows.last() {
        Some(last) if rows.len() as u64 == limit => last.id,
        _ => high,
    };
    Ok(Page { rows, next })
}

/// Every change at or below this id was pruned: a cursor below it has missed some.
pub(crate) async fn horizon(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(changes_horizon::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(0, |h| h.pruned_through))
}

/// One branch's changes in runs `after_run < run_id <= upto_run`, in feed order.
pub(crate) async fn of_branch_between(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    after_run: RunId,
    upto_run: RunId,
) -> Result<Vec<changes::Model>, DbErr> {
    changes::Entity::find()
        .filter(changes::Column::ProjectSyncId.eq(project_sync_id))
        .filter(changes::Column::RunId.gt(after_run.0))
        .filter(changes::Column::RunId.lte(upto_run.0))
        .order_by_asc(changes::Column::Id)
        .all(db)
        .await
}

/// Deletes changes older than `retention` and moves the horizon past them, in one transaction.
pub async fn prune(db: &DatabaseConnection, retention: std::time::Duration) -> Result<u64, DbErr> {
    let cutoff =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let txn = super::begin_write(db).await?;
    let through: Option<i64> = changes::Entity::find()
        .select_only()
        .column_as(changes::Column::Id.max(), "through")
        .filter(changes::Column::CreatedAt.lt(cutoff))
        .into_tuple()
        .one(&txn)
        .await?
        .flatten();
    let Some(through) = through else {
        return Ok(0);
    };
    let deleted = changes::Entity::delete_many()
        .filter(changes::Column::Id.lte(through))
        .exec(&txn)
        .await?
        .rows_affected;
    let row = changes_horizon::ActiveModel {
        id: Set(1),
        pruned_through: Set(through),
        updated_at: Set(Utc::now()),
    };
    changes_horizon::Entity::insert(row)
        .on_conflict(
            OnConflict::column(changes_horizon::Column::Id)
                .update_columns([
                    changes_horizon::Column::PrunedThrough,
                    changes_horizon::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(deleted)
}

/// Prunes at start and then once an hour until shutdown.
pub(crate) async fn run_pruner(
    db: DatabaseConnection,
    retention: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        if let Err(e) = super::commits::prune(&db, retention).await {
            tracing::warn!(error = %e, "pruning pushed commits failed");
        }
        if let Err(e) = super::head_commits::prune(&db, retention).await {
            tracing::warn!(error = %e, "pruning head commits failed");
        }
        match prune(&db, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "pruned changes past their retention"),
            Err(e) => tracing::warn!(error = %e, "pruning the change feed failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}
