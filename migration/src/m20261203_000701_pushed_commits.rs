//! The commits each push delivery listed, as "`sha` is contained in `head_sha`" rows (the push's
//! `after`; its `before` too unless the push was forced). Wait-until-synced
//! (`GET /api/v1/projects/{id}/synced`) follows them from a commit to a synced head without
//! asking GitHub.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PushedCommits::Table)
                .col(
                    ColumnDef::new(PushedCommits::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(PushedCommits::RepositoryId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(PushedCommits::Branch).text().not_null())
                .col(ColumnDef::new(PushedCommits::Sha).text().not_null())
                .col(ColumnDef::new(PushedCommits::HeadSha).text().not_null())
                .col(
                    ColumnDef::new(PushedCommits::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_pushed_commits_sha")
                .table(PushedCommits::Table)
                .col(PushedCommits::RepositoryId)
                .col(PushedCommits::Branch)
                .col(PushedCommits::Sha)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_pushed_commits_created_at")
                .table(PushedCommits::Table)
                .col(PushedCommits::CreatedAt)
                .to_owned(),
        )
        .await?;
        // Runs that synced a given head, for the same lookup.
        m.create_index(
            Index::create()
                .name("idx_sync_runs_synced_head")
                .table(SyncRuns::Table)
                .col(SyncRuns::ProjectSyncId)
                .col(SyncRuns::TargetSha)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum PushedCommits {
    Table,
    Id,
    RepositoryId,
    Branch,
    Sha,
    HeadSha,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    ProjectSyncId,
    TargetSha,
}
