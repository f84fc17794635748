//! Test-only migrations. They live here, never in migration::Migrator: the real list must stay
//! additive, and these exist to prove that hubsync notices when one is not.
use hubsync::store::{HazardKind, MigrationSet};
use migration::{
    async_trait, Alias, DataLoss, DbErr, MigrationName, MigrationTrait, SchemaManager, Table,
};
use sea_orm::{ConnectionTrait, DatabaseBackend};

/// A migration made of SQL, which may differ per engine.
pub struct Sql {
    pub name: &'static str,
    pub sql: fn(DatabaseBackend) -> Vec<&'static str>,
}

impl MigrationName for Sql {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Sql {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for s in (self.sql)(db.get_database_backend()) {
            db.execute_unprepared(s).await?;
        }
        Ok(())
    }
}

/// Drops a column through sea-query rather than raw SQL: generated statements are read too.
pub struct DropFilesSize;

impl MigrationName for DropFilesSize {
    fn name(&self) -> &str {
        "m20991231_900002_drop_files_size"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for DropFilesSize {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("files"))
                .drop_column(Alias::new("size"))
                .to_owned(),
        )
        .await
    }
}

pub fn sql(name: &'static str, sql: fn(DatabaseBackend) -> Vec<&'static str>) -> Box<Sql> {
    Box::new(Sql { name, sql })
}

/// What a later release would add: a column, a table, an index, a backfill of the new column.
pub fn additive() -> Box<Sql> {
    sql("m20991231_900001_additive", |_| {
        vec![
            "ALTER TABLE files ADD COLUMN language TEXT NULL",
            "ALTER TABLE blobs ADD COLUMN checked BOOLEAN NOT NULL DEFAULT FALSE",
            "CREATE TABLE file_stats (project_sync_id BIGINT NOT NULL, files BIGINT NOT NULL DEFAULT 0)",
            "CREATE INDEX idx_files_language ON files (language)",
            "UPDATE files SET language = 'rust' WHERE path LIKE '%.rs'",
        ]
    })
}

/// One destructive migration per kind `migrate check` must flag, with the kind expected on
/// this engine (SQLite changes a type by rebuilding the table, which drops the old one).
pub fn destructive(backend: DatabaseBackend) -> Vec<(Box<dyn MigrationTrait>, HazardKind)> {
    use HazardKind::*;
    let pg = backend == DatabaseBackend::Postgres;
    let mut cases: Vec<(Box<dyn MigrationTrait>, HazardKind)> = vec![
        (
            sql("m20991231_900010_drop_table", |_| {
                vec!["DROP TABLE sync_events"]
            }),
            DropTable,
        ),
        (Box::new(DropFilesSize), DropColumn),
        (
            // Unique: it enforced something. (A plain index goes quietly; migration 000003 is one.)
            sql("m20991231_900011_drop_unique_index", |_| {
                vec!["DROP INDEX uq_deliveries_delivery_id"]
            }),
            DropIndex,
        ),
        (
            sql("m20991231_900012_delete_all", |_| {
                vec!["DELETE FROM deliveries"]
            }),
            DeleteWithoutWhere,
        ),
        (
            sql("m20991231_900013_update_all", |_| {
                vec!["UPDATE blobs SET content = NULL"]
            }),
            UpdateWithoutWhere,
        ),
        (
            sql("m20991231_900014_not_null", |_| {
                vec!["ALTER TABLE files ADD COLUMN language TEXT NOT NULL"]
            }),
            NotNullWithoutDefault,
        ),
        (
            sql("m20991231_900015_rename_table", |_| {
                vec!["ALTER TABLE blobs RENAME TO blob_store"]
            }),
            Rename,
        ),
        (
            sql("m20991231_900016_rename_column", |_| {
                vec!["ALTER TABLE files RENAME COLUMN mode TO file_mode"]
            }),
            Rename,
        ),
    ];
    if pg {
        cases.push((
            sql("m20991231_900017_truncate", |_| {
                vec!["TRUNCATE TABLE sync_events"]
            }),
            Truncate,
        ));
        cases.push((
            sql("m20991231_900018_type_change", |_| {
                vec!["ALTER TABLE files ALTER COLUMN mode TYPE VARCHAR(3)"]
            }),
            TypeChange,
        ));
    } else {
        cases.push((
            sql("m20991231_900018_type_change", |_| {
                vec![
                    "CREATE TABLE files_new (project_sync_id BIGINT NOT NULL, path TEXT NOT NULL, \
                     blob_sha TEXT NOT NULL, mode VARCHAR(3) NOT NULL, size BIGINT NULL, \
                     PRIMARY KEY (project_sync_id, path))",
                    "INSERT INTO files_new SELECT project_sync_id, path, blob_sha, substr(mode, 1, 3), size FROM files",
                    "DROP TABLE files",
                    "ALTER TABLE files_new RENAME TO files",
                ]
            }),
            DropTable,
        ));
    }
    cases
}

/// Deletes some rows, with a WHERE: invisible to the SQL check, caught by the row counts.
pub fn prune_deliveries() -> Box<Sql> {
    sql("m20991231_900020_prune_deliveries", |_| {
        vec!["DELETE FROM deliveries WHERE status = 'processed'"]
    })
}

/// Fails half-way, after changing the schema.
pub fn failing() -> Box<Sql> {
    sql("m20991231_900030_fails", |_| {
        vec![
            "CREATE TABLE half_done (id BIGINT NOT NULL)",
            "ALTER TABLE files ADD COLUMN half TEXT NULL",
            "CREATE INDEX idx_half ON files (half)",
            "INSERT INTO no_such_table VALUES (1)",
        ]
    })
}

pub fn real_plus(m: Box<dyn MigrationTrait>, loss: Option<DataLoss>) -> MigrationSet {
    MigrationSet::real().with(m, loss)
}
