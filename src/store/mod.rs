//! The database: connecting, migrating, and the queries grouped by aggregate.
pub mod attempts;
pub mod changes;
pub mod checkpoint;
pub mod commits;
mod database_url;
pub mod deliveries;
pub mod entities;
pub mod events;
pub mod gauges;
pub mod head_commits;
pub mod installations;
pub mod manifests;
mod migrate;
pub mod outbox;
pub mod passes;
pub mod projects;
pub mod purge;
mod queue;
pub mod redeliveries;
pub mod repositories;
pub mod runs;
pub mod scope;
pub mod scoped;
pub mod selections;
pub mod sessions;
pub mod setup_links;
pub mod skipped;
pub mod snapshots;
pub mod tokens;
pub mod users;

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

pub use migrate::{
    check, check_with, migrate, migrate_with, migration_status, row_counts, snapshot, verify,
    verify_with, CheckReport, Hazard, HazardKind, MigrateError, MigrateOptions, MigrationSet,
    MigrationState, PlannedMigration, Snapshot, TableShape, VerifyReport,
};

pub use database_url::DatabaseUrl;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the {engine} database {url}: {source}")]
    Connect {
        engine: &'static str,
        url: String,
        source: DbErr,
    },
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection, StoreError> {
    if let Some(path) = url.sqlite_path() {
        prepare_sqlite_file(&path, url)?;
    }
    let mut opts = ConnectOptions::new(url.expose());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    match url {
        DatabaseUrl::Sqlite(_) => {
            // One connection: SQLite has one writer anyway, and queueing in the pool is fair
            // (FIFO), where writers spinning on the busy timeout starve each other for seconds.
            // It also keeps memory flat: each connection has its own thread and allocator arena.
            // WAL still lets other processes (the CLI) read beside it; foreign keys are off by
            // default in SQLite.
            opts.max_connections(1).map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // Multi-row inserts of blobs make large prepared statements; a small cache per
                    // connection keeps memory flat across runs.
                    .statement_cache_capacity(16)
                    .create_if_missing(true)
                    // store::checkpoint copies the WAL into the database from its own
                    // connection, so that no commit waits for it; a WAL reset trims the file.
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("journal_size_limit", (64 << 20).to_string())
                    // 32 MiB of page cache rather than SQLite's 2 MiB: with the deliveries table
                    // past a few GiB, each insert re-read its index pages from the OS.
                    .pragma("cache_size", (-32 * 1024).to_string())
            });
        }
        DatabaseUrl::Postgres(_) => {
            opts.max_connections(16).map_sqlx_postgres_pool_opts(|o| {
                o.after_connect(|conn, _| {
                    Box::pin(async move {
                        // Unscoped by default; scoped paths narrow one transaction (store::scope).
                        sea_orm::sqlx::query(scope::SEE_ALL)
                            .bind(scope::SETTING)
                            .execute(&mut *conn)
                            .await?;
                        // lz4 compresses large values (payloads, blobs) several times faster than
                        // the default pglz: ingesting 9 KB deliveries went from ~2,500/s to
                        // ~4,800/s. A server before 14, or built without lz4, refuses it and keeps
                        // its default.
                        if let Err(e) =
                            sea_orm::sqlx::query("SET default_toast_compression = 'lz4'")
                                .execute(&mut *conn)
                                .await
                        {
                            tracing::debug!(error = %e, "keeping PostgreSQL's default compression");
                        }
                        Ok(())
                    })
                })
            });
        }
    }
    Database::connect(opts)
        .await
        .map_err(|source| StoreError::Connect {
            engine: url.engine(),
            url: url.to_string(),
            source,
        })
}

/// The database holds synced code: created for hubsync's user only (0600, and its directory 0700
/// when hubsync makes it), before SQLite would create it with the umask's mode. SQLite gives its
/// -wal and -shm files the database file's mode.
fn prepare_sqlite_file(path: &std::path::Path, url: &DatabaseUrl) -> Result<(), StoreError> {
    let existed = crate::private_files::create_file(path).map_err(|e| StoreError::Connect {
        engine: url.engine(),
        url: url.to_string(),
        source: DbErr::Custom(format!("cannot create {}: {e}", path.display())),
    })?;
    if existed && crate::private_files::is_shared(path) {
        tracing::warn!(
            path = %path.display(),
            "the database file is readable by other users; `chmod 600` it (and its -wal and -shm files)"
        );
    }
    Ok(())
}

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then writes can fail with
/// "database is locked" when another writer got in between, and the busy timeout cannot help.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
