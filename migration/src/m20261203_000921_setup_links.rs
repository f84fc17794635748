//! The first run's one-time setup links: `hubsync serve` prints one while no admin exists, and
//! opening it signs that browser in as the first admin. Only the link token's SHA-256 is stored;
//! a link works once (`used_at`) and briefly (`expires_at`), on whichever replica it reaches.
//! Sessions gain `kind`, naming how they were opened (NULL: with the admin token, as before).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let at = |col: SetupLinks| {
            ColumnDef::new(col)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(SetupLinks::Table)
                .col(
                    ColumnDef::new(SetupLinks::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(SetupLinks::SecretSha256).text().not_null())
                .col(at(SetupLinks::CreatedAt))
                .col(at(SetupLinks::ExpiresAt))
                .col(
                    ColumnDef::new(SetupLinks::UsedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_setup_links_secret")
                .table(SetupLinks::Table)
                .col(SetupLinks::SecretSha256)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Sessions::Table)
                .add_column(ColumnDef::new(Sessions::Kind).text().null())
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum SetupLinks {
    Table,
    Id,
    SecretSha256,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Kind,
}
