//! How a migration says, on purpose and in code, that it removes data.
//!
//! Migrations are additive. The one exception is the second release of a removal (see README.md):
//! that migration declares itself here, naming the tables whose rows it may delete. hubsync then
//! refuses to apply it without `--allow-data-loss`, and still aborts (rolls back) if any *other*
//! table loses rows while it runs.
use sea_orm_migration::MigrationName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLoss {
    /// The declaring migration's name (taken from the migration itself, so it cannot be misspelt).
    pub migration: String,
    /// Why the data may go, shown to the operator before they allow it.
    pub reason: &'static str,
    /// Tables whose row count may fall. Empty when only columns or indexes are dropped.
    pub removes_rows_from: Vec<&'static str>,
}

impl DataLoss {
    pub fn declare(
        migration: &dyn MigrationName,
        reason: &'static str,
        removes_rows_from: &[&'static str],
    ) -> Self {
        Self {
            migration: migration.name().to_owned(),
            reason,
            removes_rows_from: removes_rows_from.to_vec(),
        }
    }

    pub fn allows_rows_lost_from(&self, table: &str) -> bool {
        self.removes_rows_from.contains(&table)
    }
}
