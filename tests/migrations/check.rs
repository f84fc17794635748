//! `migrate check` flags every destructive kind, and `migrate up` refuses each without the flag.
use hubsync::store::{self, MigrateError, MigrationSet};
use sea_orm::ConnectionTrait;

use super::{apply::schema_and_counts, filled, fixtures, migrate};
use crate::db_test;

db_test! {
    async fn check_flags_each_destructive_kind_and_up_refuses_it(db) {
        let conn = filled(&db).await;
        let untouched = schema_and_counts(&conn).await;
        for (m, kind) in fixtures::destructive(conn.get_database_backend()) {
            let name = m.name().to_owned();
            let set = fixtures::real_plus(m, None);
            let report = store::check_with(&conn, &set).await.unwrap();
            assert_eq!(report.pending.len(), 1, "{name}");
            let plan = &report.pending[0];
            assert!(!plan.statements.is_empty(), "{name}: no SQL captured");
            assert!(
                plan.hazards.iter().any(|h| h.kind == kind),
                "{name} on {}: expected {kind:?}, got {:?}", db.engine, plan.hazards
            );
            assert!(!report.problems().is_empty(), "{name}");

            match migrate(&conn, &set, false).await {
                Err(MigrateError::DataLossRefused(why)) => assert!(why.contains(&name), "{why}"),
                // SQLite refuses a NOT NULL column without default even on an empty table.
                Err(MigrateError::FailsOnScratch { migration, .. }) if plan.error.is_some() => {
                    assert_eq!(migration, name)
                }
                other => panic!("{name} on {}: expected a refusal, got {other:?}", db.engine),
            }
            assert_eq!(schema_and_counts(&conn).await, untouched, "{name} changed the database");
        }
    }
}

db_test! {
    async fn check_passes_the_real_migrations_and_shows_their_sql(db) {
        let conn = crate::migrations::connect(&db).await;
        let report = store::check(&conn).await.unwrap();
        assert!(report.problems().is_empty(), "{:?}", report.problems());
        let names: Vec<String> = MigrationSet::real().migrations().map(|m| m.name().to_owned()).collect();
        assert_eq!(report.pending.iter().map(|p| p.name.clone()).collect::<Vec<_>>(), names);
        let sql = report.pending[0].statements.join("\n");
        // Raw SQL (the partial unique indexes) is captured as well as sea-query's statements.
        assert!(sql.contains("CREATE TABLE \"files\""), "{sql}");
        assert!(sql.contains("uq_sync_runs_one_queued"), "{sql}");
        // Checking touched nothing: no table was created in the database itself, and the
        // PostgreSQL scratch schema went with its rolled-back transaction.
        assert!(store::row_counts(&conn).await.unwrap().is_empty());
        if db.engine == "postgres" {
            let left = conn
                .query_all_raw(sea_orm::Statement::from_string(
                    conn.get_database_backend(),
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'hubsync_scratch%'",
                ))
                .await
                .unwrap();
            assert!(left.is_empty(), "a scratch schema was left behind");
        }

        migrate(&conn, &MigrationSet::real(), false).await.unwrap();
        let report = store::check(&conn).await.unwrap();
        assert!(report.pending.is_empty() && report.problems().is_empty());
    }
}

db_test! {
    async fn check_reports_a_database_from_a_newer_binary(db) {
        let conn = filled(&db).await;
        conn.execute_unprepared("INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_from_the_future', 0)").await.unwrap();
        let report = store::check(&conn).await.unwrap();
        assert!(report.problems().iter().any(|p| p.contains("m29990101_000001_from_the_future")));
    }
}
