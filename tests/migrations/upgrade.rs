//! Upgrading from every earlier migration keeps every row and every byte.
use hubsync::store::MigrationSet;
use migration::{Migrator, MigratorTrait};

use super::{another, connect, fill, fixtures, migrate};
use crate::db_test;

/// The real migrations plus one additive test migration after them, so there is always at least
/// one step to upgrade across, whatever the real list holds today.
fn upgrade_path() -> (MigrationSet, usize) {
    let n = Migrator::migrations().len() + 1;
    (MigrationSet::real().with(fixtures::additive(), None), n)
}

db_test! {
    async fn upgrading_from_every_earlier_migration_keeps_every_row_and_byte(db) {
        let (_, n) = upgrade_path();
        for k in 1..n {
            let fresh;
            let target = if k == 1 {
                &db
            } else {
                fresh = another(&db).await;
                &fresh
            };
            let conn = connect(target).await;
            let (path, _) = upgrade_path();
            migrate(&conn, &path.first(k), false).await.unwrap_or_else(|e| panic!("migrate to {k}: {e}"));
            fill::fill(&conn).await;
            let before = fill::digest(&conn, None).await;
            assert_eq!(before["files"].1, fill::FILES);

            let (path, _) = upgrade_path();
            let applied = migrate(&conn, &path, false).await.unwrap_or_else(|e| panic!("upgrade from {k}: {e}"));
            assert_eq!(applied.len(), n - k, "upgrade from {k} on {}", db.engine);

            let after = fill::digest(&conn, Some(&before)).await;
            for (table, digest) in &before {
                assert_eq!(after.get(table), Some(digest), "{table} changed upgrading from {k} on {}", db.engine);
            }
            fill::assert_blobs_intact(&conn).await;
            // PostgreSQL: row-level security hides none of the existing rows from their own
            // installation (fill's 1, 2 and 3), nor from `*`.
            crate::rls::assert_upgraded_rows_visible(target, &conn, &[1, 2, 3], |t| {
                before.get(t).map_or(0, |d| d.1)
            })
            .await;
            // The new column was backfilled where the test migration said, and nowhere else.
            let rust = crate::migrations::apply::count_where(&conn, "files", "language = 'rust'").await;
            assert_eq!(rust, (fill::FILES / 4) as i64);
            conn.close().await.unwrap();
        }
    }
}
