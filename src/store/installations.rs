//! Installations of the GitHub App, keyed by GitHub's installation id.
use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};

use super::entities::installations::{self, Column};

/// What an installation event tells about an installation.
#[derive(Debug, Clone)]
pub struct InstallationFacts {
    pub id: i64,
    pub account_login: String,
    pub account_id: i64,
    pub account_type: String,
    pub repository_selection: Option<String>,
    pub suspended_at: Option<DateTime<Utc>>,
}

/// Creates or refreshes an installation; a re-created installation is no longer deleted.
pub async fn upsert(
    db: &impl ConnectionTrait,
    facts: InstallationFacts,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = installations::ActiveModel {
        id: Set(facts.id),
        account_login: Set(facts.account_login),
        account_id: Set(facts.account_id),
        account_type: Set(facts.account_type),
        repository_selection: Set(facts.repository_selection),
        suspended_at: Set(facts.suspended_at),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    installations::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([
                    Column::AccountLogin,
                    Column::AccountId,
                    Column::AccountType,
                    Column::RepositorySelection,
                    Column::SuspendedAt,
                    Column::DeletedAt,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn exists(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    Ok(installations::Entity::find_by_id(id)
        .one(db)
        .await?
        .is_some())
}

pub(crate) async fn mark_deleted(
    db: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    installations::Entity::update_many()
        .col_expr(Column::DeletedAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// `at` None lifts a suspension.
pub(crate) async fn set_suspended(
    db: &impl ConnectionTrait,
    id: i64,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    installations::Entity::update_many()
        .col_expr(Column::SuspendedAt, Expr::value(at))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Those of these installations that are neither deleted nor suspended.
pub(crate) async fn active(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i64>,
) -> Result<Vec<installations::Model>, DbErr> {
    installations::Entity::find()
        .filter(Column::Id.is_in(ids))
        .filter(Column::DeletedAt.is_null())
        .filter(Column::SuspendedAt.is_null())
        .all(db)
        .await
}
