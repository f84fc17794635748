//! Git LFS pointer files (`version https://git-lfs.github.com/spec/v1`, under 1024 bytes) are
//! stored as what they are, but flagged, so the API says `"skipped": "lfs_pointer"` instead of
//! passing a pointer off as the file's content. Blobs stored before are flagged here.
use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What every pointer starts with (the spec's first line).
const PREFIX: &str = "version https://git-lfs.github.com/spec/v1\n";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Blobs::Table)
                .add_column(
                    ColumnDef::new(Blobs::LfsPointer)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        let hex: String = PREFIX.bytes().map(|b| format!("{b:02x}")).collect();
        let n = PREFIX.len();
        let sql = match m.get_database_backend() {
            DbBackend::Postgres => format!(
                "UPDATE blobs SET lfs_pointer = TRUE WHERE size < 1024 \
                 AND substring(content from 1 for {n}) = '\\x{hex}'::bytea"
            ),
            _ => format!(
                "UPDATE blobs SET lfs_pointer = 1 WHERE size < 1024 \
                 AND substr(content, 1, {n}) = X'{hex}'"
            ),
        };
        m.get_connection().execute_unprepared(&sql).await?;
        // The status page counts them per branch.
        m.create_index(
            Index::create()
                .name("idx_blobs_lfs_pointer")
                .table(Blobs::Table)
                .col(Blobs::Sha)
                .and_where(Expr::col(Blobs::LfsPointer).eq(true))
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Sha,
    LfsPointer,
}
