//! A push synced from GitHub's compare is trusted only for branches without submodules (compare
//! may not show what a gitlink change does). Each such run asks whether its manifest lists any
//! submodule; this partial index holds only those rows, so the answer costs no manifest scan.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_files_submodules")
                .table(Files::Table)
                .col(Files::ProjectSyncId)
                .and_where(Expr::col(Files::Mode).eq("160000"))
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Files {
    Table,
    ProjectSyncId,
    Mode,
}
