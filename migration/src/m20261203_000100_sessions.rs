//! Browser sessions live in the database, so that logging out or rotating the admin token ends
//! them on every replica and a copied cookie stops working. The cookie carries a random secret;
//! only its SHA-256 is stored, so reading the table does not let anyone log in.
//!
//! Built to be extended: a later migration can add a nullable `user_id` for people who sign in
//! with GitHub, beside `admin_token_id` for sessions opened with the admin token.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let at = |col: Sessions| {
            ColumnDef::new(col)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(
                    ColumnDef::new(Sessions::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Sessions::SecretSha256).text().not_null())
                .col(ColumnDef::new(Sessions::AdminTokenId).text().null())
                .col(at(Sessions::CreatedAt))
                .col(at(Sessions::ExpiresAt))
                .col(at(Sessions::LastSeenAt))
                .col(
                    ColumnDef::new(Sessions::RevokedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sessions_secret")
                .table(Sessions::Table)
                .col(Sessions::SecretSha256)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sessions_expires_at")
                .table(Sessions::Table)
                .col(Sessions::ExpiresAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    SecretSha256,
    AdminTokenId,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
    RevokedAt,
}
