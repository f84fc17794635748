//! People signed in with GitHub: their (sealed) tokens, and the repositories GitHub says they can
//! reach, which decide what they see. The HTTP layer rebuilds the list from GitHub's answers.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use super::entities::{
    github_users, projects,
    user_repositories::{self, Role},
};
use crate::ids::RepositoryId;

/// Tokens as stored: already sealed by the caller.
#[derive(Debug, Clone)]
pub struct SealedTokens {
    pub access: String,
    pub refresh: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

/// Records a sign-in: the user (new or known, their login may have changed) with fresh tokens.
/// Their access is re-checked before they see anything (`access_checked_at` is cleared).
pub(crate) async fn signed_in(
    db: &DatabaseConnection,
    id: i64,
    login: &str,
    tokens: &SealedTokens,
) -> Result<(), DbErr> {
    let now = Utc::now();
    github_users::Entity::insert(github_users::ActiveModel {
        id: Set(id),
        login: Set(login.to_owned()),
        access_token: Set(tokens.access.clone()),
        refresh_token: Set(tokens.refresh.clone()),
        token_expires_at: Set(tokens.expires_at),
        refresh_expires_at: Set(tokens.refresh_expires_at),
        access_checked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(github_users::Column::Id)
            .update_columns([
                github_users::Column::Login,
                github_users::Column::AccessToken,
                github_users::Column::RefreshToken,
                github_users::Column::TokenExpiresAt,
                github_users::Column::RefreshExpiresAt,
                github_users::Column::AccessCheckedAt,
                github_users::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<github_users::Model>, DbErr> {
    github_users::Entity::find_by_id(id).one(db).await
}

/// Replaces the tokens after a refresh, only if they are still the ones `previous` (sealed) names:
/// false when another request (or replica) refreshed first.
pub async fn refreshed(
    db: &DatabaseConnection,
    id: i64,
    previous: &str,
    tokens: &SealedTokens,
) -> Result<bool, DbErr> {
    let r = github_users::Entity::update_many()
        .col_expr(
            github_users::Column::AccessToken,
            Expr::value(tokens.access.clone()),
        )
        .col_expr(
            github_users::Column::RefreshToken,
            Expr::value(tokens.refresh.clone()),
        )
        .col_expr(
            github_users::Column::TokenExpiresAt,
            Expr::value(tokens.expires_at),
        )
        .col_expr(
            github_users::Column::RefreshExpiresAt,
            Expr::value(tokens.refresh_expires_at),
        )
        .col_expr(github_users::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(github_users::Column::Id.eq(id))
        .filter(github_users::Column::AccessToken.eq(previous))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Rows per INSERT when rebuilding a user's list (4 values each, far under SQLite's limit).
const CHUNK: usize = 500;

/// Replaces what the user can reach, in one transaction, and marks it checked now.
pub(crate) async fn replace_access(
    db: &DatabaseConnection,
    user_id: i64,
    repositories: &HashMap<i64, (i64, Role)>,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    user_repositories::Entity::delete_many()
        .filter(user_repositories::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    let rows: Vec<user_repositories::ActiveModel> = repositories
        .iter()
        .map(
            |(repo, (installation, role))| user_repositories::ActiveModel {
                user_id: Set(user_id),
                repository_id: Set(*repo),
                installation_id: Set(*installation),
                role: Set(*role),
            },
        )
        .collect();
    for chunk in rows.chunks(CHUNK) {
        user_repositories::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    github_users::Entity::update_many()
        .col_expr(
            github_users::Column::AccessCheckedAt,
            Expr::value(Some(Utc::now())),
        )
        .filter(github_users::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// The repositories the user can reach, with their role in each.
pub async fn access(db: &DatabaseConnection, user_id: i64) -> Result<HashMap<i64, Role>, DbErr> {
    Ok(user_repositories::Entity::find()
        .filter(user_repositories::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.repository_id, r.role))
        .collect())
}

/// The ids of the projects of repositories the user can reach.
pub(crate) async fn visible_projects(
    db: &DatabaseConnection,
    user_id: i64,
) -> Result<std::collections::HashSet<i64>, DbErr> {
    let repos: Vec<i64> = access(db, user_id).await?.into_keys().collect();
    let mut ids = std::collections::HashSet::new();
    for chunk in repos.chunks(CHUNK * 10) {
        let found = projects::Entity::find()
            .filter(projects::Column::RepositoryId.is_in(chunk.to_vec()))
            .all(db)
            .await?;
        ids.extend(found.into_iter().map(|p| p.id));
    }
    Ok(ids)
}

/// The user's role for one repository; None: the user cannot see it.
pub async fn role(
    db: &DatabaseConnection,
    user_id: i64,
    repository_id: RepositoryId,
) -> Result<Option<Role>, DbErr> {
    Ok(
        user_repositories::Entity::find_by_id((user_id, repository_id.0))
            .one(db)
            .await?
            .map(|r| r.role),
    )
}

/// Signs the user out everywhere (their GitHub token stopped working): sessions end, tokens and
/// access are forgotten.
pub(crate) async fn sign_out(db: &DatabaseConnection, user_id: i64) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    super::sessions::revoke_user(&txn, user_id).await?;
    user_repositories::Entity::delete_many()
        .filter(user_repositories::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    github_users::Entity::delete_many()
        .filter(github_users::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await
}
