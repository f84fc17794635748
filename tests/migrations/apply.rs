//! `migrate up`: destructive migrations only with the flag, rows lost only where declared, and a
//! failure leaves the database exactly as it was.
use std::collections::BTreeMap;

use hubsync::store::{self, MigrateError, MigrationState, Snapshot};
use migration::{DataLoss, MigrationTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use super::{filled, fixtures, migrate};
use crate::db_test;

pub async fn count_where(db: &DatabaseConnection, table: &str, cond: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {cond}");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Everything a failed or refused migration must leave as it was.
pub async fn schema_and_counts(
    db: &DatabaseConnection,
) -> (Snapshot, BTreeMap<String, i64>, Vec<MigrationState>) {
    (
        store::snapshot(db).await.unwrap(),
        store::row_counts(db).await.unwrap(),
        store::migration_status(db).await.unwrap(),
    )
}

db_test! {
    async fn a_declared_destructive_migration_applies_only_with_the_flag(db) {
        let conn = filled(&db).await;
        let drop = fixtures::DropFilesSize;
        let loss = DataLoss::declare(&drop, "files.size moved to blobs.size in the previous release", &[]);
        let set = fixtures::real_plus(Box::new(drop), Some(loss));

        let report = store::check_with(&conn, &set).await.unwrap();
        assert!(report.problems().iter().any(|p| p.contains("declares data loss")), "{:?}", report.problems());
        let err = migrate(&conn, &set, false).await.unwrap_err();
        assert!(matches!(err, MigrateError::DataLossRefused(_)), "{err}");
        assert!(err.to_string().contains("--allow-data-loss"), "{err}");

        let applied = migrate(&conn, &set, true).await.unwrap();
        assert_eq!(applied, vec!["m20991231_900002_drop_files_size"]);
        assert!(!store::snapshot(&conn).await.unwrap()["files"].columns.contains_key("size"));
        assert_eq!(count_where(&conn, "files", "1 = 1").await, crate::migrations::fill::FILES as i64);
        // verify's expectation follows the migrations, the dropping one included.
        let report = store::verify_with(&conn, &set).await.unwrap();
        assert!(report.differences.is_empty(), "{:?}", report.differences);
    }
}

fn delete_all() -> Box<dyn MigrationTrait> {
    fixtures::sql("m20991231_900040_forget_deliveries", |_| {
        vec!["DELETE FROM deliveries"]
    })
}

db_test! {
    async fn rows_may_go_only_from_tables_the_migration_declared(db) {
        let conn = filled(&db).await;
        let untouched = schema_and_counts(&conn).await;
        let deliveries = untouched.1["deliveries"];

        // A DELETE with a WHERE looks harmless to the SQL check: the row counts catch it.
        for allow in [false, true] {
            let err = migrate(&conn, &fixtures::real_plus(fixtures::prune_deliveries(), None), allow).await.unwrap_err();
            match &err {
                MigrateError::RowsLost { migration, losses } => {
                    assert_eq!(migration, "m20991231_900020_prune_deliveries");
                    assert!(losses.contains(&format!("deliveries: {deliveries} -> ")), "{losses}");
                }
                other => panic!("expected RowsLost, got {other}"),
            }
            assert!(err.to_string().contains("rolled back"), "{err}");
            assert_eq!(schema_and_counts(&conn).await, untouched);
        }

        // The flag alone does not let rows go from a table nobody declared.
        let err = migrate(&conn, &fixtures::real_plus(delete_all(), None), true).await.unwrap_err();
        assert!(matches!(err, MigrateError::RowsLost { .. }), "{err}");
        assert_eq!(schema_and_counts(&conn).await, untouched);

        // Declared for another table: still refused.
        let m = delete_all();
        let wrong = DataLoss::declare(m.as_ref(), "old events", &["sync_events"]);
        let err = migrate(&conn, &fixtures::real_plus(m, Some(wrong)), true).await.unwrap_err();
        assert!(matches!(err, MigrateError::RowsLost { .. }), "{err}");
        assert_eq!(schema_and_counts(&conn).await, untouched);

        // Declared for this table and allowed: applied.
        let m = delete_all();
        let loss = DataLoss::declare(m.as_ref(), "deliveries are replayable from GitHub", &["deliveries"]);
        migrate(&conn, &fixtures::real_plus(m, Some(loss)), true).await.unwrap();
        assert_eq!(count_where(&conn, "deliveries", "1 = 1").await, 0);
        assert_eq!(count_where(&conn, "files", "1 = 1").await, crate::migrations::fill::FILES as i64);
    }
}

db_test! {
    async fn a_migration_failing_half_way_leaves_the_schema_as_it_was(db) {
        let conn = filled(&db).await;
        let untouched = schema_and_counts(&conn).await;
        // Succeeds on the empty scratch database, fails on the real rows (modes repeat).
        let m = fixtures::sql("m20991231_900031_fails_on_data", |_| {
            vec![
                "CREATE TABLE half_done (id BIGINT NOT NULL)",
                "ALTER TABLE files ADD COLUMN half TEXT NULL",
                "CREATE UNIQUE INDEX uq_files_mode ON files (mode)",
            ]
        });
        let err = migrate(&conn, &fixtures::real_plus(m, None), true).await.unwrap_err();
        assert!(matches!(err, MigrateError::Failed { .. }), "{err}");
        assert!(err.to_string().contains("the database is as it was"), "{err}");
        assert_eq!(schema_and_counts(&conn).await, untouched, "on {}", db.engine);

        // One that fails even on an empty database is stopped before the real one is touched.
        let err = migrate(&conn, &fixtures::real_plus(fixtures::failing(), None), true).await.unwrap_err();
        assert!(matches!(err, MigrateError::FailsOnScratch { .. }), "{err}");
        assert_eq!(schema_and_counts(&conn).await, untouched);
    }
}
