//! The change feed (`GET /api/v1/changes`): one row per file a successful run changed, written in
//! the transaction that swaps the manifest. The id is the cursor. `changes_horizon` remembers how
//! far retention pruned, so a cursor older than that is told to resync (410) instead of silently
//! missing rows.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let text = |c: Changes| ColumnDef::new(c).text().not_null().to_owned();
        let opt_text = |c: Changes| ColumnDef::new(c).text().null().to_owned();
        m.create_table(
            Table::create()
                .table(Changes::Table)
                .col(
                    ColumnDef::new(Changes::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Changes::ProjectId).big_integer().not_null())
                .col(
                    ColumnDef::new(Changes::ProjectSyncId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Changes::RunId).big_integer().not_null())
                .col(text(Changes::Repository))
                .col(text(Changes::Branch))
                .col(text(Changes::CommitSha))
                .col(text(Changes::Path))
                .col(text(Changes::Change))
                .col(opt_text(Changes::PreviousPath))
                .col(opt_text(Changes::BlobSha))
                .col(opt_text(Changes::PreviousBlobSha))
                .col(opt_text(Changes::Mode))
                .col(opt_text(Changes::PreviousMode))
                .col(ColumnDef::new(Changes::Size).big_integer().null())
                .col(ColumnDef::new(Changes::PreviousSize).big_integer().null())
                .col(
                    ColumnDef::new(Changes::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // A consumer of one project reads its rows by cursor.
        m.create_index(
            Index::create()
                .name("idx_changes_project_id")
                .table(Changes::Table)
                .col(Changes::ProjectId)
                .col(Changes::Id)
                .to_owned(),
        )
        .await?;
        // Snapshots and compare read one branch's rows up to a run.
        m.create_index(
            Index::create()
                .name("idx_changes_branch_run")
                .table(Changes::Table)
                .col(Changes::ProjectSyncId)
                .col(Changes::RunId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_changes_created_at")
                .table(Changes::Table)
                .col(Changes::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ChangesHorizon::Table)
                .col(
                    ColumnDef::new(ChangesHorizon::Id)
                        .integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ChangesHorizon::PrunedThrough)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(ChangesHorizon::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Changes {
    Table,
    Id,
    ProjectId,
    ProjectSyncId,
    RunId,
    Repository,
    Branch,
    CommitSha,
    Path,
    Change,
    PreviousPath,
    BlobSha,
    PreviousBlobSha,
    Mode,
    PreviousMode,
    Size,
    PreviousSize,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ChangesHorizon {
    Table,
    Id,
    PrunedThrough,
    UpdatedAt,
}
