//! Repositories visible to an installation, keyed by GitHub's repository id (names change).
//! Removing a repository only sets `removed_at`: its synced data is kept.
use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};

use super::entities::repositories::{self, Column};

/// What an event tells about a repository. Installation events carry no default branch: it
/// stays empty until an event or the sync layer tells it.
#[derive(Debug, Clone)]
pub(crate) struct RepositoryFacts {
    pub id: i64,
    pub installation_id: i64,
    pub full_name: String,
    pub private: bool,
    pub default_branch: Option<String>,
    pub archived: Option<bool>,
}

fn row(f: &RepositoryFacts, now: DateTime<Utc>) -> repositories::ActiveModel {
    repositories::ActiveModel {
        id: Set(f.id),
        installation_id: Set(f.installation_id),
        full_name: Set(f.full_name.clone()),
        default_branch: Set(f.default_branch.clone().unwrap_or_default()),
        private: Set(f.private),
        archived: Set(f.archived.unwrap_or(false)),
        removed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// The columns an event's facts overwrite on an existing row.
fn known_columns(f: &RepositoryFacts) -> Vec<Column> {
    let mut cols = vec![
        Column::InstallationId,
        Column::FullName,
        Column::Private,
        Column::UpdatedAt,
    ];
    if f.default_branch.is_some() {
        cols.push(Column::DefaultBranch);
    }
    if f.archived.is_some() {
        cols.push(Column::Archived);
    }
    cols
}

/// The repository became visible (installation created, repositories added): creates it, or
/// refreshes it and clears `removed_at`.
pub(crate) async fn upsert_visible(
    db: &impl ConnectionTrait,
    facts: &RepositoryFacts,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut cols = known_columns(facts);
    cols.push(Column::RemovedAt);
    repositories::Entity::insert(row(facts, now))
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns(cols)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// An event about the repository (renamed, edited, pushed to...): creates it if unknown,
/// otherwise refreshes what the event tells, leaving `removed_at` as it is.
pub(crate) async fn upsert_seen(
    db: &impl ConnectionTrait,
    facts: &RepositoryFacts,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    repositories::Entity::insert(row(facts, now))
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns(known_columns(facts))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<repositories::Model>, DbErr> {
    repositories::Entity::find_by_id(id).one(db).await
}

/// Marks repositories removed (keeping the time of the first removal).
pub(crate) async fn mark_removed(
    db: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    repositories::Entity::update_many()
        .col_expr(Column::RemovedAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .filter(Column::RemovedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Marks every repository of an installation removed (the installation was deleted).
pub(crate) async fn mark_installation_removed(
    db: &impl ConnectionTrait,
    installation_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    repositories::Entity::update_many()
        .col_expr(Column::RemovedAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::InstallationId.eq(installation_id))
        .filter(Column::RemovedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Visible repositories whose default branch is still unknown (installation events omit it).
pub(crate) async fn awaiting_default_branch(
    db: &impl ConnectionTrait,
) -> Result<Vec<repositories::Model>, DbErr> {
    repositories::Entity::find()
        .filter(Column::DefaultBranch.eq(""))
        .filter(Column::RemovedAt.is_null())
        .all(db)
        .await
}

/// Records what GitHub said about a repository: its default branch and current name.
pub(crate) async fn set_details(
    db: &impl ConnectionTrait,
    id: i64,
    default_branch: &str,
    full_name: &str,
) -> Result<(), DbErr> {
    repositories::Entity::update_many()
        .col_expr(Column::DefaultBranch, Expr::value(default_branch))
        .col_expr(Column::FullName, Expr::value(full_name))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

pub(crate) async fn of_installation(
    db: &impl ConnectionTrait,
    installation_id: i64,
) -> Result<Vec<repositories::Model>, DbErr> {
    repositories::Entity::find()
        .filter(Column::InstallationId.eq(installation_id))
        .all(db)
        .await
}
