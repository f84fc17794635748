//! Applying the schema: pending migrations at start, never past a database from a newer binary.
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, TransactionTrait};

use super::StoreError;

/// One migration as seen from this binary and the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationState {
    Applied(String),
    Pending(String),
    /// Recorded in the database but unknown to this binary: a newer hubsync ran here.
    Unknown(String),
}

/// Any PostgreSQL advisory lock key works as long as every hubsync uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x0068_7562_7379_6e63; // "hubsync"

pub async fn migration_status(
    db: &impl ConnectionTrait,
) -> Result<Vec<MigrationState>, StoreError> {
    let applied: Vec<String> = Migrator::get_migration_models(db)
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect();
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let mut states: Vec<MigrationState> = known
        .iter()
        .map(|name| {
            if applied.contains(name) {
                MigrationState::Applied(name.clone())
            } else {
                MigrationState::Pending(name.clone())
            }
        })
        .collect();
    states.extend(
        applied
            .into_iter()
            .filter(|a| !known.contains(a))
            .map(MigrationState::Unknown),
    );
    Ok(states)
}

/// Applies every pending migration and returns their names. Refuses a database that has
/// migrations this binary does not know. All of it runs in one transaction (both engines have
/// transactional DDL), so a failure leaves the schema as it was; on PostgreSQL an advisory lock
/// makes replicas that start together apply each migration once.
pub async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>, StoreError> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    }
    let states = migration_status(&txn).await?;
    let unknown: Vec<&str> = states
        .iter()
        .filter_map(|s| match s {
            MigrationState::Unknown(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    if !unknown.is_empty() {
        return Err(StoreError::UnknownMigrations(unknown.join(", ")));
    }
    let pending: Vec<String> = states
        .into_iter()
        .filter_map(|s| match s {
            MigrationState::Pending(n) => Some(n),
            _ => None,
        })
        .collect();
    if !pending.is_empty() {
        Migrator::up(&txn, None)
            .await
            .map_err(StoreError::Migration)?;
    }
    txn.commit().await?;
    Ok(pending)
}
