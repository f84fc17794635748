//! What the run page says about the commit a run synced: the head commit's message and author,
//! as the push delivery carried them (`head_commit`), so the page never asks GitHub. And an index
//! for a run's events (its timeline reads them by run).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(HeadCommits::Table)
                .col(
                    ColumnDef::new(HeadCommits::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(HeadCommits::RepositoryId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(HeadCommits::Sha).text().not_null())
                .col(ColumnDef::new(HeadCommits::Message).text().not_null())
                .col(ColumnDef::new(HeadCommits::AuthorName).text().null())
                .col(ColumnDef::new(HeadCommits::AuthorLogin).text().null())
                .col(
                    ColumnDef::new(HeadCommits::CommittedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(HeadCommits::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_head_commits_sha")
                .table(HeadCommits::Table)
                .col(HeadCommits::RepositoryId)
                .col(HeadCommits::Sha)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_head_commits_created_at")
                .table(HeadCommits::Table)
                .col(HeadCommits::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sync_events_run")
                .table(SyncEvents::Table)
                .col(SyncEvents::RunId)
                .col(SyncEvents::Id)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum HeadCommits {
    Table,
    Id,
    RepositoryId,
    Sha,
    Message,
    AuthorName,
    AuthorLogin,
    CommittedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SyncEvents {
    Table,
    RunId,
    Id,
}
