//! The claim asks, for each queued run, whether its branch ran within the debounce (a busy branch
//! waits; an idle one starts at once). This index answers that from the branch's newest finish
//! instead of reading its whole run history.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_sync_runs_finished")
                .table(SyncRuns::Table)
                .col(SyncRuns::ProjectSyncId)
                .col(SyncRuns::FinishedAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    ProjectSyncId,
    FinishedAt,
}
