//! The operator's two questions: what will an upgrade do (`check`), and does the database now
//! hold exactly the schema this binary expects (`verify`). The expectation is not a hand-kept
//! list: it is what this binary's migrations build on a scratch database of the same engine.
use std::{collections::BTreeMap, fmt};

use sea_orm::DatabaseConnection;

use super::{
    applied, plan, plan::PlannedMigration, plan::Scratch, schema, unknown, MigrateError,
    MigrationSet, MigrationState,
};

#[derive(Debug)]
pub struct CheckReport {
    pub unknown: Vec<String>,
    pub pending: Vec<PlannedMigration>,
}

impl CheckReport {
    /// Why applying the pending migrations is not safe; empty when it is.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .unknown
            .iter()
            .map(|u| format!("{u} was applied by a newer hubsync"))
            .collect();
        for p in &self.pending {
            if let Some(e) = &p.error {
                out.push(format!("{} fails: {e}", p.name));
            }
            out.extend(p.hazards.iter().map(|h| format!("{}: {h}", p.name)));
            if let Some(d) = &p.data_loss {
                out.push(format!("{}: declares data loss: {}", p.name, d.reason));
            }
        }
        out
    }
}

/// What `hubsync migrate check` prints: each pending migration, its SQL, and under each
/// destructive statement what it destroys.
impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for u in &self.unknown {
            writeln!(f, "unknown  {u}  (applied by a newer hubsync)")?;
        }
        if self.pending.is_empty() {
            writeln!(f, "nothing pending: the database is up to date")?;
        }
        for p in &self.pending {
            let verdict = match (&p.error, p.is_destructive()) {
                (Some(_), _) => "FAILS",
                (None, true) => "DESTRUCTIVE",
                (None, false) => "additive",
            };
            writeln!(f, "pending  {}  ({verdict})", p.name)?;
            for s in &p.statements {
                writeln!(f, "    {};", s.trim_end().trim_end_matches(';'))?;
                for h in p.hazards.iter().filter(|h| s.contains(&h.statement)) {
                    writeln!(f, "      ^ DESTRUCTIVE: {h}")?;
                }
            }
            if let Some(d) = &p.data_loss {
                writeln!(f, "    declared data loss: {}", d.reason)?;
            }
            if let Some(e) = &p.error {
                writeln!(f, "    FAILS on a scratch database: {e}")?;
            }
        }
        Ok(())
    }
}

pub async fn check(db: &DatabaseConnection) -> Result<CheckReport, MigrateError> {
    check_with(db, &MigrationSet::real()).await
}

/// Plans the pending migrations without applying them.
pub async fn check_with(
    db: &DatabaseConnection,
    set: &MigrationSet,
) -> Result<CheckReport, MigrateError> {
    let states = set.status(db).await?;
    Ok(CheckReport {
        unknown: unknown(&states),
        pending: plan::plan(db, db, set, &applied(&states)).await?,
    })
}

#[derive(Debug)]
pub struct VerifyReport {
    pub states: Vec<MigrationState>,
    /// Each way the database differs from what this binary expects.
    pub differences: Vec<String>,
    pub row_counts: BTreeMap<String, i64>,
}

pub async fn verify(db: &DatabaseConnection) -> Result<VerifyReport, MigrateError> {
    verify_with(db, &MigrationSet::real()).await
}

pub async fn verify_with(
    db: &DatabaseConnection,
    set: &MigrationSet,
) -> Result<VerifyReport, MigrateError> {
    let states = set.status(db).await?;
    let mut differences: Vec<String> = states
        .iter()
        .filter_map(|s| match s {
            MigrationState::Pending(n) => Some(format!("migration {n} is not applied")),
            MigrationState::Unknown(n) => {
                Some(format!("migration {n} was applied by a newer hubsync"))
            }
            MigrationState::Applied(_) => None,
        })
        .collect();
    let actual = schema::snapshot(db).await?;
    let scratch = Scratch::open(db).await?;
    let built = scratch.apply(set.migrations()).await;
    let expected = match built {
        Ok(()) => schema::snapshot(&scratch.conn()).await,
        Err((migration, e)) => Err(e).map_err(|e| {
            sea_orm::DbErr::Custom(format!("{migration} fails on a scratch database: {e}"))
        }),
    };
    scratch.discard().await;
    differences.extend(schema::diff(&expected?, &actual));
    Ok(VerifyReport {
        states,
        differences,
        row_counts: schema::row_counts(db).await?,
    })
}
