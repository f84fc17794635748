//! Projects and their branch selections (`projects`, `project_syncs`).
//!
//! A selection holds concrete branch rows (each with a manifest and runs) and pattern rows
//! (`is_pattern`), which spawn a concrete row for every matching branch GitHub reports. A concrete
//! row is enabled while an explicit name or an enabled pattern selects it; disabling keeps its data.
//! A pattern row's state says whether its branches were listed from GitHub since it was selected:
//! `pending` (not yet), `synced` (at `last_synced_at`), or `failed` (to be tried again).
use chrono::Utc;
use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};

pub use super::entities::project_syncs::SelectionState;
use super::entities::{
    project_syncs::{self, Column as Sel, Entity as Selection},
    projects::{self, Entity as Project},
};
use crate::git::{BranchName, Selector};

/// The project of a repository, created on first sight (one per repository).
pub(crate) async fn ensure_project(
    db: &impl ConnectionTrait,
    repository_id: i64,
) -> Result<projects::Model, DbErr> {
    let am = projects::ActiveModel {
        repository_id: Set(repository_id),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    Project::insert(am)
        .on_conflict(
            OnConflict::column(projects::Column::RepositoryId)
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec_without_returning(db)
        .await?;
    project_of_repository(db, repository_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("project of repository {repository_id}")))
}

pub async fn project_of_repository(
    db: &impl ConnectionTrait,
    repository_id: i64,
) -> Result<Option<projects::Model>, DbErr> {
    Project::find()
        .filter(projects::Column::RepositoryId.eq(repository_id))
        .one(db)
        .await
}

pub async fn selections(
    db: &impl ConnectionTrait,
    project_id: i64,
) -> Result<Vec<project_syncs::Model>, DbErr> {
    Selection::find()
        .filter(Sel::ProjectId.eq(project_id))
        .order_by_asc(Sel::Id)
        .all(db)
        .await
}

/// Upserts a selection row as enabled. For a concrete branch returns the row, whose `deleted_at`
/// is cleared: the branch exists again.
pub async fn enable(
    db: &impl ConnectionTrait,
    project_id: i64,
    name: &str,
    is_pattern: bool,
) -> Result<project_syncs::Model, DbErr> {
    let now = Utc::now();
    let existing = Selection::find()
        .filter(Sel::ProjectId.eq(project_id))
        .filter(Sel::Branch.eq(name))
        .one(db)
        .await?;
    match existing {
        Some(row) if row.enabled && row.deleted_at.is_none() && row.is_pattern == is_pattern => {
            Ok(row)
        }
        Some(row) => {
            let state = row.state;
            let mut am: project_syncs::ActiveModel = row.into();
            am.enabled = Set(true);
            am.is_pattern = Set(is_pattern);
            // A pattern selected again lists its branches again.
            if state == SelectionState::Deleted || is_pattern {
                am.state = Set(SelectionState::Pending);
            }
            am.deleted_at = Set(None);
            am.updated_at = Set(now);
            am.update(db).await
        }
        None => {
            project_syncs::ActiveModel {
                project_id: Set(project_id),
                branch: Set(name.to_owned()),
                is_pattern: Set(is_pattern),
                enabled: Set(true),
                state: Set(SelectionState::Pending),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
        }
    }
}

/// Replaces a project's selection. Returns the concrete rows that became enabled (to be synced).
pub async fn set_selection(
    db: &impl ConnectionTrait,
    project_id: i64,
    wanted: &[Selector],
) -> Result<Vec<project_syncs::Model>, DbErr> {
    let mut newly_enabled = Vec::new();
    for s in wanted {
        let before = Selection::find()
            .filter(Sel::ProjectId.eq(project_id))
            .filter(Sel::Branch.eq(s.as_str()))
            .one(db)
            .await?;
        let row = enable(db, project_id, s.as_str(), s.is_pattern()).await?;
        if !row.is_pattern && !before.is_some_and(|b| b.enabled) {
            newly_enabled.push(row);
        }
    }
    for row in selections(db, project_id).await? {
        let keep = if row.is_pattern {
            wanted
                .iter()
                .any(|s| s.is_pattern() && s.as_str() == row.branch)
        } else {
            row.branch_name()
                .is_some_and(|b| wanted.iter().any(|s| s.matches(&b)))
        };
        if row.enabled && !keep {
            let mut am: project_syncs::ActiveModel = row.into();
            am.enabled = Set(false);
            am.updated_at = Set(Utc::now());
            am.update(db).await?;
        }
    }
    Ok(newly_enabled)
}

/// The enabled concrete selection for a branch of a project, created when an enabled pattern
/// matches it. None when the branch is not selected.
pub(crate) async fn selection_for_branch(
    db: &impl ConnectionTrait,
    project_id: i64,
    branch: &BranchName,
) -> Result<Option<project_syncs::Model>, DbErr> {
    let rows = selections(db, project_id).await?;
    select_branch(db, project_id, &rows, branch).await
}

/// `selection_for_branch` of the project of `repository_id`, reading the project and its
/// selections in one query: a push costs one round trip less.
pub(crate) async fn repository_selection_for_branch(
    db: &impl ConnectionTrait,
    repository_id: i64,
    branch: &BranchName,
) -> Result<Option<project_syncs::Model>, DbErr> {
    let rows = Selection::find()
        .inner_join(Project)
        .filter(projects::Column::RepositoryId.eq(repository_id))
        .order_by_asc(Sel::Id)
        .all(db)
        .await?;
    // No selection: nothing to sync, whether or not the project exists.
    let Some(project_id) = rows.first().map(|r| r.project_id) else {
        return Ok(None);
    };
    select_branch(db, project_id, &rows, branch).await
}

/// The enabled selection of `branch` among the project's `rows`, enabling its concrete row when
/// the branch exists again or an enabled pattern matches it.
async fn select_branch(
    db: &impl ConnectionTrait,
    project_id: i64,
    rows: &[project_syncs::Model],
    branch: &BranchName,
) -> Result<Option<project_syncs::Model>, DbErr> {
    if let Some(row) = rows
        .iter()
        .find(|r| !r.is_pattern && r.branch == branch.as_str())
    {
        if row.enabled && row.deleted_at.is_none() {
            return Ok(Some(row.clone()));
        }
        if row.enabled {
            // A push or create to a deleted branch: it exists again.
            return enable(db, project_id, branch.as_str(), false)
                .await
                .map(Some);
        }
    }
    let pattern_match = rows
        .iter()
        .filter(|r| r.is_pattern && r.enabled)
        .any(|r| Selector::parse(&r.branch).is_ok_and(|s| s.matches(branch)));
    if pattern_match {
        return enable(db, project_id, branch.as_str(), false)
            .await
            .map(Some);
    }
    Ok(None)
}

pub(crate) async fn set_state(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    state: SelectionState,
) -> Result<(), DbErr> {
    Selection::update_many()
        .col_expr(Sel::State, sea_orm::sea_query::Expr::value(state))
        .col_expr(Sel::UpdatedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(Sel::Id.eq(project_sync_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// The branch was deleted on GitHub: keep the selection and its manifest, mark them deleted.
pub(crate) async fn mark_deleted(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<(), DbErr> {
    let now = Utc::now();
    Selection::update_many()
        .col_expr(Sel::DeletedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(
            Sel::State,
            sea_orm::sea_query::Expr::value(SelectionState::Deleted),
        )
        .col_expr(Sel::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(Sel::Id.eq(project_sync_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// A run succeeded: the branch now is at `sha`.
pub(crate) async fn mark_synced(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    sha: &str,
) -> Result<(), DbErr> {
    let now = Utc::now();
    Selection::update_many()
        .col_expr(Sel::LastSyncedSha, sea_orm::sea_query::Expr::value(sha))
        .col_expr(Sel::LastSyncedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(
            Sel::State,
            sea_orm::sea_query::Expr::value(SelectionState::Synced),
        )
        .col_expr(
            Sel::DeletedAt,
            sea_orm::sea_query::Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(Sel::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(Sel::Id.eq(project_sync_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// A pattern's matching branches were just listed from GitHub and selected.
pub(crate) async fn mark_listed(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<(), DbErr> {
    let now = Utc::now();
    Selection::update_many()
        .col_expr(
            Sel::State,
            sea_orm::sea_query::Expr::value(SelectionState::Synced),
        )
        .col_expr(Sel::LastSyncedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(Sel::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(Sel::Id.eq(project_sync_id))
        .filter(Sel::IsPattern.eq(true))
        .exec(db)
        .await
        .map(|_| ())
}

/// A project's enabled patterns list their branches again at the next background pass.
pub(crate) async fn relist_patterns(
    db: &impl ConnectionTrait,
    project_id: i64,
) -> Result<(), DbErr> {
    Selection::update_many()
        .col_expr(
            Sel::State,
            sea_orm::sea_query::Expr::value(SelectionState::Pending),
        )
        .col_expr(Sel::UpdatedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(Sel::ProjectId.eq(project_id))
        .filter(Sel::IsPattern.eq(true))
        .filter(Sel::Enabled.eq(true))
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn find(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<Option<project_syncs::Model>, DbErr> {
    Selection::find_by_id(project_sync_id).one(db).await
}

/// Enabled patterns; with `unlisted_only`, those not listed since they were (re)selected or
/// whose listing failed.
pub(crate) async fn enabled_patterns(
    db: &impl ConnectionTrait,
    unlisted_only: bool,
) -> Result<Vec<project_syncs::Model>, DbErr> {
    let mut find = Selection::find()
        .filter(Sel::IsPattern.eq(true))
        .filter(Sel::Enabled.eq(true));
    if unlisted_only {
        find = find.filter(Sel::State.ne(SelectionState::Synced));
    }
    find.all(db).await
}
