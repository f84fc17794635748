//! PostgreSQL moved each delivery's payload (about 9 KB for a push, 3 KB compressed) to the
//! TOAST table, since a row over 2 KB gets its largest values moved out: two extra heap rows and
//! an index entry per webhook, a sixth of the server's time storing a burst. With the row target
//! at the page's capacity, a payload that compresses to fit stays in the row and only larger ones
//! move out. (`STORAGE MAIN` on the payload alone made it worse: the 2 KB target then moved the
//! small values, delivery id and headers, out instead.) No rewrite: stored rows keep their
//! layout. SQLite has no such setting.
use sea_orm_migration::{
    prelude::*,
    sea_orm::{DatabaseBackend, Statement},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        let block_size: i64 = db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT current_setting('block_size')::int8 AS b",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("no block_size".into()))?
            .try_get("", "b")?;
        // The largest target PostgreSQL accepts: the page less its header and one line pointer.
        db.execute_unprepared(&format!(
            "ALTER TABLE deliveries SET (toast_tuple_target = {})",
            block_size - 32
        ))
        .await?;
        Ok(())
    }
}
