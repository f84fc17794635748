//! One row per attempt of a sync run: when it ran, on which worker, how it ended and why, and
//! what it cost. A run retried after a GitHub outage keeps every attempt's error, not only the
//! last one in `sync_runs.error`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let count = |c: SyncRunAttempts| {
            ColumnDef::new(c)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(SyncRunAttempts::Table)
                .col(
                    ColumnDef::new(SyncRunAttempts::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(SyncRunAttempts::RunId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SyncRunAttempts::Attempt)
                        .integer()
                        .not_null(),
                )
                .col(ColumnDef::new(SyncRunAttempts::Worker).text().not_null())
                .col(ColumnDef::new(SyncRunAttempts::Status).text().not_null())
                .col(ColumnDef::new(SyncRunAttempts::Error).text().null())
                .col(count(SyncRunAttempts::FilesFetched))
                .col(count(SyncRunAttempts::BytesFetched))
                .col(count(SyncRunAttempts::ApiRequests))
                .col(
                    ColumnDef::new(SyncRunAttempts::StartedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SyncRunAttempts::FinishedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sync_run_attempts_run")
                        .from(SyncRunAttempts::Table, SyncRunAttempts::RunId)
                        .to(SyncRuns::Table, SyncRuns::Id)
                        .on_delete(ForeignKeyAction::Restrict)
                        .on_update(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        // Each attempt number once per run; also how a run's attempts are read.
        m.create_index(
            Index::create()
                .name("uq_sync_run_attempts_run_attempt")
                .table(SyncRunAttempts::Table)
                .col(SyncRunAttempts::RunId)
                .col(SyncRunAttempts::Attempt)
                .unique()
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum SyncRunAttempts {
    Table,
    Id,
    RunId,
    Attempt,
    Worker,
    Status,
    Error,
    FilesFetched,
    BytesFetched,
    ApiRequests,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum SyncRuns {
    Table,
    Id,
}
