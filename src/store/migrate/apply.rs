//! `migrate up` and startup: every pending migration in one transaction (both engines have
//! transactional DDL, so a failure leaves the schema as it was), under an advisory lock on
//! PostgreSQL so replicas starting together apply each migration once.
use std::time::{SystemTime, UNIX_EPOCH};

use migration::SchemaManager;
use sea_orm::{
    sea_query::{Alias, Query},
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, TransactionTrait,
};

use super::{applied, plan, schema, unknown, MigrateError, MigrationSet};

/// Any PostgreSQL advisory lock key works as long as every hubsync uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x0068_7562_7379_6e63; // "hubsync"

#[derive(Debug, Clone, Copy, Default)]
pub struct MigrateOptions {
    /// The operator's explicit consent (`--allow-data-loss`) to destructive migrations.
    pub allow_data_loss: bool,
}

/// Applies this binary's pending migrations, refusing destructive ones.
pub async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>, MigrateError> {
    migrate_with(db, &MigrationSet::real(), MigrateOptions::default()).await
}

/// Applies the pending migrations of `set` and returns their names. Refuses a database with
/// migrations the set does not know, and destructive migrations unless allowed. Row counts are
/// taken around each migration; a table losing rows its migration did not declare rolls
/// everything back.
pub async fn migrate_with(
    db: &DatabaseConnection,
    set: &MigrationSet,
    opts: MigrateOptions,
) -> Result<Vec<String>, MigrateError> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await?;
    }
    let states = set.status(&txn).await?;
    let unknown = unknown(&states);
    if !unknown.is_empty() {
        return Err(MigrateError::UnknownMigrations(unknown.join(", ")));
    }
    let applied = applied(&states);
    // Planned under the lock, so the plan is of exactly what this transaction will apply. On
    // PostgreSQL the scratch takes a second pooled connection beside this transaction's.
    let plans = plan::plan(db, &txn, set, &applied).await?;
    if plans.is_empty() {
        txn.commit().await?;
        return Ok(vec![]);
    }
    if let Some(p) = plans.iter().find(|p| p.error.is_some()) {
        return Err(MigrateError::FailsOnScratch {
            migration: p.name.clone(),
            reason: p.error.clone().unwrap_or_default(),
        });
    }
    let destructive: Vec<String> = plans
        .iter()
        .filter(|p| p.is_destructive())
        .map(|p| p.summary())
        .collect();
    if !destructive.is_empty() {
        if !opts.allow_data_loss {
            return Err(MigrateError::DataLossRefused(destructive.join(" | ")));
        }
        for d in &destructive {
            tracing::warn!(migration = %d, "APPLYING A DESTRUCTIVE MIGRATION: --allow-data-loss was given");
        }
    }

    let mut done = Vec::new();
    for m in set
        .migrations()
        .filter(|m| !applied.iter().any(|a| a == m.name()))
    {
        let name = m.name().to_owned();
        let before = schema::row_counts(&txn).await?;
        m.up(&SchemaManager::new(&txn))
            .await
            .map_err(|source| MigrateError::Failed {
                migration: name.clone(),
                source,
            })?;
        record(&txn, &name).await?;
        let after = schema::row_counts(&txn).await?;
        let declared = set.data_loss(&name).filter(|_| opts.allow_data_loss);
        let mut undeclared = Vec::new();
        for (table, n) in &before {
            let left = after.get(table).copied().unwrap_or(0);
            if left >= *n {
                continue;
            }
            let loss = format!("{table}: {n} -> {left} rows");
            if declared.is_some_and(|d| d.allows_rows_lost_from(table)) {
                tracing::warn!(migration = %name, %loss, "rows removed as the migration declared");
            } else {
                undeclared.push(loss);
            }
        }
        if !undeclared.is_empty() {
            return Err(MigrateError::RowsLost {
                migration: name,
                losses: undeclared.join(", "),
            });
        }
        tracing::info!(migration = %name, "migration applied");
        done.push(name);
    }
    txn.commit().await?;
    Ok(done)
}

async fn record(txn: &DatabaseTransaction, name: &str) -> Result<(), MigrateError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let stmt = Query::insert()
        .into_table(Alias::new("seaql_migrations"))
        .columns([Alias::new("version"), Alias::new("applied_at")])
        .values([name.into(), now.into()])
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
        .to_owned();
    txn.execute(&stmt).await?;
    Ok(())
}
