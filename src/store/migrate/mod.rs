//! Applying the schema safely: pending migrations at start, never past a database from a newer
//! binary, never a destructive step without `--allow-data-loss`, never a row lost that the
//! migration did not declare. `check` shows what would run; `verify` proves what is there.
mod apply;
mod hazards;
mod plan;
mod schema;
mod verify;

use migration::{DataLoss, MigrationTrait, Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbErr};

pub use apply::{migrate, migrate_with, MigrateOptions};
pub use hazards::{Hazard, HazardKind};
pub use plan::PlannedMigration;
pub use schema::{row_counts, snapshot, Snapshot, TableShape};
pub use verify::{check, check_with, verify, verify_with, CheckReport, VerifyReport};

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database has migrations this binary does not know ({0}); it was upgraded by a newer \
         hubsync: run that version, or restore a backup taken before the upgrade"
    )]
    UnknownMigrations(String),
    #[error(
        "refusing destructive migrations without --allow-data-loss ({0}); review them with \
         `hubsync migrate check`, take a backup, then run `hubsync migrate up --allow-data-loss`"
    )]
    DataLossRefused(String),
    #[error(
        "migration {migration} removed rows it did not declare ({losses}); rolled back, the \
         database is as it was"
    )]
    RowsLost { migration: String, losses: String },
    #[error("migration {migration} failed, rolled back, the database is as it was: {source}")]
    Failed { migration: String, source: DbErr },
    #[error("migration {migration} fails on a scratch database, nothing was applied: {reason}")]
    FailsOnScratch { migration: String, reason: String },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// One migration as seen from this binary and the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationState {
    Applied(String),
    Pending(String),
    /// Recorded in the database but unknown to this binary: a newer hubsync ran here.
    Unknown(String),
}

/// The migrations a binary knows, in order, with their data-loss declarations. The real one is
/// `MigrationSet::real()`; tests build others to exercise destructive migrations.
pub struct MigrationSet {
    migrations: Vec<Box<dyn MigrationTrait>>,
    data_loss: Vec<DataLoss>,
}

impl MigrationSet {
    pub fn real() -> Self {
        Self::new(Migrator::migrations(), Migrator::data_loss())
    }

    pub fn new(migrations: Vec<Box<dyn MigrationTrait>>, data_loss: Vec<DataLoss>) -> Self {
        Self {
            migrations,
            data_loss,
        }
    }

    /// Only the first `n` migrations: the schema as an earlier release left it.
    pub fn first(mut self, n: usize) -> Self {
        self.migrations.truncate(n);
        self
    }

    pub fn with(mut self, migration: Box<dyn MigrationTrait>, loss: Option<DataLoss>) -> Self {
        self.migrations.push(migration);
        self.data_loss.extend(loss);
        self
    }

    pub fn migrations(&self) -> impl Iterator<Item = &dyn MigrationTrait> {
        self.migrations.iter().map(|m| m.as_ref())
    }

    pub fn data_loss(&self, name: &str) -> Option<&DataLoss> {
        self.data_loss.iter().find(|d| d.migration == name)
    }

    pub async fn status(&self, db: &impl ConnectionTrait) -> Result<Vec<MigrationState>, DbErr> {
        let applied: Vec<String> = Migrator::get_migration_models(db)
            .await?
            .into_iter()
            .map(|m| m.version)
            .collect();
        let mut states: Vec<MigrationState> = self
            .migrations()
            .map(|m| {
                let name = m.name().to_owned();
                if applied.contains(&name) {
                    MigrationState::Applied(name)
                } else {
                    MigrationState::Pending(name)
                }
            })
            .collect();
        states.extend(
            applied
                .into_iter()
                .filter(|a| !self.migrations().any(|m| m.name() == a))
                .map(MigrationState::Unknown),
        );
        Ok(states)
    }
}

pub async fn migration_status(db: &impl ConnectionTrait) -> Result<Vec<MigrationState>, DbErr> {
    MigrationSet::real().status(db).await
}

fn applied(states: &[MigrationState]) -> Vec<String> {
    states
        .iter()
        .filter_map(|s| match s {
            MigrationState::Applied(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn unknown(states: &[MigrationState]) -> Vec<String> {
    states
        .iter()
        .filter_map(|s| match s {
            MigrationState::Unknown(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}
