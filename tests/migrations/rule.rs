//! The migration crate's rule (migration/README.md), enforced: every real migration is additive
//! on both engines, from an empty database and over rows, unless it declares its data loss; and
//! the code never reads a column the migrations no longer create.
use hubsync::store::{self, CheckReport, MigrationSet};
use migration::{Migrator, MigratorTrait};
use sea_orm::{EntityTrait, QuerySelect};

use super::{connect, fill, fixtures, migrate};
use crate::db_test;

/// What breaks the rule in a check report: a destructive step without a declaration, or a
/// migration that fails.
fn violations(report: &CheckReport) -> Vec<String> {
    let mut out = Vec::new();
    for p in &report.pending {
        if let Some(e) = &p.error {
            out.push(format!("{} fails: {e}", p.name));
        }
        if p.data_loss.is_none() {
            out.extend(
                p.hazards
                    .iter()
                    .map(|h| format!("{}: {h} without a DataLoss declaration", p.name)),
            );
        }
    }
    out
}

async fn check_at_every_step(
    db: &crate::support::TestDb,
    set: impl Fn() -> MigrationSet,
) -> Vec<String> {
    let n = set().migrations().count();
    let mut out = Vec::new();
    for k in 0..n {
        let fresh = super::another(db).await;
        let conn = connect(&fresh).await;
        migrate(&conn, &set().first(k), false).await.unwrap();
        if k > 0 {
            fill::fill(&conn).await; // NOT NULL without default only bites a table with rows
        }
        out.extend(violations(&store::check_with(&conn, &set()).await.unwrap()));
        conn.close().await.unwrap();
    }
    out
}

db_test! {
    async fn every_real_migration_is_additive_or_declares_its_data_loss(db) {
        let v = check_at_every_step(&db, MigrationSet::real).await;
        assert!(v.is_empty(), "on {}: {v:?}", db.engine);
        // Every declaration names a real migration.
        let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        for d in Migrator::data_loss() {
            assert!(names.contains(&d.migration), "{} is declared but not a migration", d.migration);
        }
    }
}

db_test! {
    async fn the_rule_test_fails_on_undeclared_destructive_sql(db) {
        let v = check_at_every_step(&db, || MigrationSet::real().with(Box::new(fixtures::DropFilesSize), None)).await;
        assert!(v.iter().any(|x| x.contains("drops a column")), "{v:?}");
    }
}

db_test! {
    async fn the_code_reads_only_columns_the_migrations_create(db) {
        use hubsync::store::entities::*;
        let conn = crate::migrations::filled(&db).await;
        // Each SELECT names every column of its entity: one the migrations dropped fails here,
        // which is the first half of the two-release removal (stop using, then drop).
        macro_rules! reads {
            ($($m:ident),*) => {$(
                $m::Entity::find().limit(3).all(&conn).await
                    .unwrap_or_else(|e| panic!("{}: {e}", stringify!($m)));
            )*};
        }
        reads!(installations, repositories, projects, project_syncs, sync_runs, sync_run_attempts, blobs, files, deliveries, sync_events, sessions, background_passes, webhook_redeliveries, api_tokens, setup_links);
    }
}
