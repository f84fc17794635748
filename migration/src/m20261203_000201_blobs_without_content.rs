//! Blobs stored without content (skipped as over `HUBSYNC_MAX_FILE_SIZE`) are looked up by size
//! at every run and at start-up, to fetch those a raised limit now allows. This partial index
//! holds only those few rows: without it, each lookup would read the whole `blobs` table, content
//! and all on SQLite.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_blobs_without_content")
                .table(Blobs::Table)
                .col(Blobs::Size)
                .col(Blobs::Sha)
                .and_where(Expr::col(Blobs::Content).is_null())
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Sha,
    Size,
    Content,
}
