//! People who sign in with GitHub: one row per GitHub user (their user-to-server token, sealed),
//! the repositories GitHub says they can reach (re-checked every few minutes) and, on sessions,
//! which user a browser session belongs to. Admin-token sessions keep `user_id` NULL.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let at = |col: GithubUsers| {
            ColumnDef::new(col)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        let maybe_at = |col: GithubUsers| {
            ColumnDef::new(col)
                .timestamp_with_time_zone()
                .null()
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(GithubUsers::Table)
                .col(
                    ColumnDef::new(GithubUsers::Id)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(GithubUsers::Login).text().not_null())
                .col(ColumnDef::new(GithubUsers::AccessToken).text().not_null())
                .col(ColumnDef::new(GithubUsers::RefreshToken).text().null())
                .col(maybe_at(GithubUsers::TokenExpiresAt))
                .col(maybe_at(GithubUsers::RefreshExpiresAt))
                .col(maybe_at(GithubUsers::AccessCheckedAt))
                .col(at(GithubUsers::CreatedAt))
                .col(at(GithubUsers::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UserRepositories::Table)
                .col(
                    ColumnDef::new(UserRepositories::UserId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(UserRepositories::RepositoryId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(UserRepositories::InstallationId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(UserRepositories::Role).text().not_null())
                .primary_key(
                    Index::create()
                        .col(UserRepositories::UserId)
                        .col(UserRepositories::RepositoryId),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Sessions::Table)
                .add_column(ColumnDef::new(Sessions::UserId).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sessions_user_id")
                .table(Sessions::Table)
                .col(Sessions::UserId)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum GithubUsers {
    Table,
    Id,
    Login,
    AccessToken,
    RefreshToken,
    TokenExpiresAt,
    RefreshExpiresAt,
    AccessCheckedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserRepositories {
    Table,
    UserId,
    RepositoryId,
    InstallationId,
    Role,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    UserId,
}
