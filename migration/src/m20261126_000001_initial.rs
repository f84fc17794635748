//! The initial schema (docs/architecture.md, Data model). Written with sea-query so it runs the
//! same on SQLite and PostgreSQL.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn created_at<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Installations::Table)
                .col(
                    ColumnDef::new(Installations::Id)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Installations::AccountLogin)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Installations::AccountId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Installations::AccountType).text().not_null())
                .col(
                    ColumnDef::new(Installations::RepositorySelection)
                        .text()
                        .null(),
                )
                .col(
                    ColumnDef::new(Installations::SuspendedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Installations::DeletedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(created_at(Installations::CreatedAt))
                .col(created_at(Installations::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Repositories::Table)
                .col(
                    ColumnDef::new(Repositories::Id)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Repositories::InstallationId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Repositories::FullName).text().not_null())
                .col(
                    ColumnDef::new(Repositories::DefaultBranch)
                        .text()
                        .not_null(),
                )
                .col(ColumnDef::new(Repositories::Private).boolean().not_null())
                .col(
                    ColumnDef::new(Repositories::Archived)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new(Repositories::RemovedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(created_at(Repositories::CreatedAt))
                .col(created_at(Repositories::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_repositories_installation",
                    (Repositories::Table, Repositories::InstallationId),
                    (Installations::Table, Installations::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_repositories_installation",
            Repositories::Table,
            &[Repositories::InstallationId],
            false,
        )
        .await?;
        index(
            m,
            "idx_repositories_full_name",
            Repositories::Table,
            &[Repositories::FullName],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Projects::Table)
                .col(
                    ColumnDef::new(Projects::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Projects::RepositoryId)
                        .big_integer()
                        .not_null(),
                )
                .col(created_at(Projects::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_projects_repository",
                    (Projects::Table, Projects::RepositoryId),
                    (Repositories::Table, Repositories::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "uq_projects_repository",
            Projects::Table,
            &[Projects::RepositoryId],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectSyncs::Table)
                .col(
                    ColumnDef::new(ProjectSyncs::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ProjectSyncs::ProjectId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(ProjectSyncs::Branch).text().not_null())
                .col(
                    ColumnDef::new(ProjectSyncs::IsPattern)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new(ProjectSyncs::Enabled)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(
                    ColumnDef::new(ProjectSyncs::State)
                        .text()
                        .not_null()
                        .default("idle"),
                )
                .col(ColumnDef::new(ProjectSyncs::LastSyncedSha).text().null())
                .col(
                    ColumnDef::new(ProjectSyncs::LastSyncedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(ProjectSyncs::DeletedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(created_at(ProjectSyncs::CreatedAt))
                .col(created_at(ProjectSyncs::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_project_syncs_project",
                    (ProjectSyncs::Table, ProjectSyncs::ProjectId),
                    (Projects::Table, Projects::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "uq_project_syncs_branch",
            ProjectSyncs::Table,
            &[ProjectSyncs::ProjectId, ProjectSyncs::Branch],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SyncRuns::Table)
                .col(
                    ColumnDef::new(SyncRuns::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(SyncRuns::ProjectSyncId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(SyncRuns::Trigger).text().not_null())
                .col(ColumnDef::new(SyncRuns::FromSha).text().null())
                .col(ColumnDef::new(SyncRuns::TargetSha).text().null())
                .col(ColumnDef::new(SyncRuns::Status).text().not_null())
                .col(
                    ColumnDef::new(SyncRuns::Attempt)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::LeaseUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(SyncRuns::LeasedBy).text().null())
                .col(
                    ColumnDef::new(SyncRuns::NotBefore)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(SyncRuns::FilesTotal)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::FilesChanged)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::FilesFetched)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::BytesFetched)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(SyncRuns::ApiRequests)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .col(created_at(SyncRuns::QueuedAt))
                .col(
                    ColumnDef::new(SyncRuns::StartedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(SyncRuns::FinishedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(SyncRuns::Error).text().null())
                .foreign_key(&mut fk(
                    "fk_sync_runs_project_sync",
                    (SyncRuns::Table, SyncRuns::ProjectSyncId),
                    (ProjectSyncs::Table, ProjectSyncs::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_sync_runs_status",
            SyncRuns::Table,
            &[SyncRuns::Status, SyncRuns::LeaseUntil],
            false,
        )
        .await?;
        index(
            m,
            "idx_sync_runs_project_sync",
            SyncRuns::Table,
            &[SyncRuns::ProjectSyncId, SyncRuns::Id],
            false,
        )
        .await?;
        // The queue's invariant, enforced by the database itself: at most one queued and one
        // running run per branch. Partial indexes have the same syntax on SQLite and PostgreSQL.
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_sync_runs_one_queued ON sync_runs (project_sync_id) WHERE status = 'queued'",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_sync_runs_one_running ON sync_runs (project_sync_id) WHERE status = 'running'",
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Blobs::Table)
                .col(ColumnDef::new(Blobs::Sha).text().not_null().primary_key())
                .col(ColumnDef::new(Blobs::Size).big_integer().not_null())
                .col(ColumnDef::new(Blobs::Binary).boolean().not_null())
                // NULL when the blob is over the size limit: listed, not stored.
                .col(ColumnDef::new(Blobs::Content).blob().null())
                .col(created_at(Blobs::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Files::Table)
                .col(
                    ColumnDef::new(Files::ProjectSyncId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Files::Path).text().not_null())
                // Not a foreign key: submodule entries carry a commit sha, not a blob.
                .col(ColumnDef::new(Files::BlobSha).text().not_null())
                .col(ColumnDef::new(Files::Mode).text().not_null())
                .col(ColumnDef::new(Files::Size).big_integer().null())
                .primary_key(Index::create().col(Files::ProjectSyncId).col(Files::Path))
                .foreign_key(&mut fk(
                    "fk_files_project_sync",
                    (Files::Table, Files::ProjectSyncId),
                    (ProjectSyncs::Table, ProjectSyncs::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_files_blob_sha",
            Files::Table,
            &[Files::BlobSha],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Deliveries::Table)
                .col(
                    ColumnDef::new(Deliveries::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Deliveries::DeliveryId).text().not_null())
                .col(ColumnDef::new(Deliveries::Event).text().not_null())
                .col(ColumnDef::new(Deliveries::Action).text().null())
                .col(
                    ColumnDef::new(Deliveries::InstallationId)
                        .big_integer()
                        .null(),
                )
                .col(ColumnDef::new(Deliveries::HookId).big_integer().null())
                .col(ColumnDef::new(Deliveries::Headers).json().not_null())
                .col(ColumnDef::new(Deliveries::Payload).text().not_null())
                .col(ColumnDef::new(Deliveries::Status).text().not_null())
                .col(
                    ColumnDef::new(Deliveries::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(ColumnDef::new(Deliveries::Error).text().null())
                .col(
                    ColumnDef::new(Deliveries::NotBefore)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(created_at(Deliveries::ReceivedAt))
                .col(
                    ColumnDef::new(Deliveries::ProcessedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "uq_deliveries_delivery_id",
            Deliveries::Table,
            &[Deliveries::DeliveryId],
            true,
        )
        .await?;
        index(
            m,
            "idx_deliveries_pending",
            Deliveries::Table,
            &[
                Deliveries::Status,
                Deliveries::InstallationId,
                Deliveries::Id,
            ],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SyncEvents::Table)
                .col(
                    ColumnDef::new(SyncEvents::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(SyncEvents::ProjectId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(SyncEvents::RunId).big_integer().null())
                .col(ColumnDef::new(SyncEvents::Kind).text().not_null())
                .col(ColumnDef::new(SyncEvents::Data).json().not_null())
                .col(created_at(SyncEvents::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_sync_events_project",
                    (SyncEvents::Table, SyncEvents::ProjectId),
                    (Projects::Table, Projects::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_sync_events_run",
                    (SyncEvents::Table, SyncEvents::RunId),
                    (SyncRuns::Table, SyncRuns::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_sync_events_project",
            SyncEvents::Table,
            &[SyncEvents::ProjectId, SyncEvents::Id],
            false,
        )
        .await?;
        index(
            m,
            "idx_sync_events_created_at",
            SyncEvents::Table,
            &[SyncEvents::CreatedAt],
            false,
        )
        .await?;
        Ok(())
    }

    // No `down`: hubsync never drops synced data by migration (see this crate's README).
}

async fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    m: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(*c);
    }
    if unique {
        stmt.unique();
    }
    m.create_index(stmt.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Installations {
    Table,
    Id,
    AccountLogin,
    AccountId,
    AccountType,
    RepositorySelection,
    SuspendedAt,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Repositories {
    Table,
    Id,
    InstallationId,
    FullName,
    DefaultBranch,
    Private,
    Archived,
    RemovedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Projects {
    Table,
    Id,
    RepositoryId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ProjectSyncs {
    Table,
    Id,
    ProjectId,
    Branch,
    IsPattern,
    Enabled,
    State,
    LastSyncedSha,
    LastSyncedAt,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SyncRuns {
    Table,
    Id,
    ProjectSyncId,
    Trigger,
    FromSha,
    TargetSha,
    Status,
    Attempt,
    LeaseUntil,
    LeasedBy,
    NotBefore,
    FilesTotal,
    FilesChanged,
    FilesFetched,
    BytesFetched,
    ApiRequests,
    QueuedAt,
    StartedAt,
    FinishedAt,
    Error,
}

#[derive(DeriveIden, Clone, Copy)]
enum Blobs {
    Table,
    Sha,
    Size,
    Binary,
    Content,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Files {
    Table,
    ProjectSyncId,
    Path,
    BlobSha,
    Mode,
    Size,
}

#[derive(DeriveIden, Clone, Copy)]
enum Deliveries {
    Table,
    Id,
    DeliveryId,
    Event,
    Action,
    InstallationId,
    HookId,
    Headers,
    Payload,
    Status,
    Attempts,
    Error,
    NotBefore,
    ReceivedAt,
    ProcessedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SyncEvents {
    Table,
    Id,
    ProjectId,
    RunId,
    Kind,
    Data,
    CreatedAt,
}
