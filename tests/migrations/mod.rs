//! Migrations that cannot lose data (issue 7): check, the --allow-data-loss gate, the row-count
//! guard, verify, the additive rule, and upgrades that keep every row and byte.
mod apply;
mod check;
mod cli;
mod fill;
mod fixtures;
mod rule;
mod upgrade;

use hubsync::store::{self, MigrateOptions, MigrationSet};
use sea_orm::DatabaseConnection;

use crate::support::TestDb;

pub async fn connect(db: &TestDb) -> DatabaseConnection {
    let url = hubsync::store::DatabaseUrl::parse(&db.url).expect("test database URL");
    store::connect(&url).await.expect("connect")
}

/// A new, empty database on the same engine as `db`.
pub async fn another(db: &TestDb) -> TestDb {
    if db.engine == "sqlite" {
        TestDb::sqlite().await
    } else {
        TestDb::postgres().await.expect("PostgreSQL configured")
    }
}

pub async fn migrate(
    conn: &DatabaseConnection,
    set: &MigrationSet,
    allow_data_loss: bool,
) -> Result<Vec<String>, store::MigrateError> {
    store::migrate_with(conn, set, MigrateOptions { allow_data_loss }).await
}

/// A database at the latest real migration, filled with realistic rows.
pub async fn filled(db: &TestDb) -> DatabaseConnection {
    let conn = connect(db).await;
    migrate(&conn, &MigrationSet::real(), false)
        .await
        .expect("real migrations apply");
    fill::fill(&conn).await;
    conn
}
