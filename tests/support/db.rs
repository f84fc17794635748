//! A fresh database per test: a SQLite file in a temp dir, or a new database on the PostgreSQL
//! server named by TEST_DATABASE_URL.
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};

pub struct TestDb {
    pub url: String,
    pub engine: &'static str,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>, // (admin url, database name) to drop afterwards
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("hubsync.db").display());
        Self {
            url,
            engine: "sqlite",
            _dir: Some(dir),
            pg: None,
        }
    }

    /// None when TEST_DATABASE_URL is unset: the PostgreSQL half of the suite is skipped (see
    /// `postgres_missing`).
    pub async fn postgres() -> Option<Self> {
        let admin = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        Some(Self::postgres_on(&admin, "hubsync_test").await)
    }

    /// A new database named `PREFIX_<pid>_<n>_<nanos>` on the server `admin` points at, dropped
    /// when this value is. (Benchmarks use their own prefix: CI drops leftover test databases.)
    pub async fn postgres_on(admin: &str, prefix: &str) -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let conn = Database::connect(admin)
            .await
            .expect("connect to the PostgreSQL server");
        conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create a fresh database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(admin).expect("the PostgreSQL URL is a URL");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            engine: "postgres",
            _dir: None,
            pg: Some((admin.to_owned(), name)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop runs inside the test's runtime: use a thread with its own runtime to clean up.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let conn = Database::connect(&admin).await.ok()?;
                conn.execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                ))
                .await
                .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL (when TEST_DATABASE_URL is
/// set), as `name::sqlite` and `name::postgres`, each with its own fresh database.
#[macro_export]
macro_rules! db_test {
    ($(#[$attr:meta])* async fn $name:ident($db:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: $crate::support::TestDb) $body

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::support::TestDb::sqlite().await).await
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::support::TestDb::postgres().await {
                    Some(db) => body(db).await,
                    None => $crate::support::postgres_missing(concat!(module_path!(), "::postgres")),
                }
            }
        }
    };
}

/// A `::postgres` half without TEST_DATABASE_URL: says SKIPPED where `cargo test` shows it (the
/// test itself still reports ok), and fails under CI, where a missing server is a broken setup.
pub fn postgres_missing(test: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{test}: TEST_DATABASE_URL is not set, and CI requires the PostgreSQL half");
    }
    // Straight to stderr: libtest captures `eprintln!`, and a skip nobody sees reads as a pass.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: TEST_DATABASE_URL is not set"
    );
}
