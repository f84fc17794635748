//! API tokens for downstream tools: each has a name, a scope (`read` or `write`), optionally one
//! project it is limited to, and an optional expiry. The token itself is never stored: only its
//! SHA-256, so reading the table does not let anyone call the API. Revoking sets `revoked_at`
//! (the row stays, for a look at what was used when).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let at = |col: ApiTokens| {
            ColumnDef::new(col)
                .timestamp_with_time_zone()
                .null()
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(
                    ColumnDef::new(ApiTokens::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(ApiTokens::Name).text().not_null())
                .col(ColumnDef::new(ApiTokens::SecretSha256).text().not_null())
                .col(ColumnDef::new(ApiTokens::Scope).text().not_null())
                .col(ColumnDef::new(ApiTokens::ProjectId).big_integer().null())
                .col(
                    ColumnDef::new(ApiTokens::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(at(ApiTokens::ExpiresAt))
                .col(at(ApiTokens::LastUsedAt))
                .col(at(ApiTokens::RevokedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_tokens_secret")
                .table(ApiTokens::Table)
                .col(ApiTokens::SecretSha256)
                .unique()
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    SecretSha256,
    Scope,
    ProjectId,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}
