//! What the safety costs: `migrate check` / `verify`, and an upgrade with its row counts, on a
//! database holding many synced files. `cargo bench --bench migrate_safety` (SQLite; set
//! TEST_DATABASE_URL=postgres://... for PostgreSQL too; FILES=N to change the size).
use std::time::{Duration, Instant};

use hubsync::{
    store::DatabaseUrl,
    store::{self, MigrateOptions, MigrationSet},
};
use migration::{async_trait, DbErr, MigrationName, MigrationTrait, SchemaManager};
use sea_orm::{ConnectionTrait, DatabaseConnection};

struct AddColumn;

impl MigrationName for AddColumn {
    fn name(&self) -> &str {
        "m20991231_900001_bench_add_column"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddColumn {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("ALTER TABLE files ADD COLUMN language TEXT NULL")
            .await?;
        db.execute_unprepared("CREATE INDEX idx_files_language ON files (language)")
            .await?;
        Ok(())
    }
}

async fn fill(db: &DatabaseConnection, files: usize) {
    let pg = db.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
    let now = format!("'{}'", chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%:z"));
    for sql in [
        format!("INSERT INTO installations (id, account_login, account_id, account_type, created_at, updated_at) VALUES (1, 'o', 1, 'Organization', {now}, {now})"),
        format!("INSERT INTO repositories (id, installation_id, full_name, default_branch, private, created_at, updated_at) VALUES (1, 1, 'o/r', 'main', {}, {now}, {now})", if pg { "TRUE" } else { "1" }),
        format!("INSERT INTO projects (repository_id, created_at) VALUES (1, {now})"),
        format!("INSERT INTO project_syncs (project_id, branch, created_at, updated_at) VALUES (1, 'main', {now}, {now})"),
    ] {
        db.execute_unprepared(&sql).await.expect("seed");
    }
    for chunk in (0..files).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "(1, 'src/dir{}/file{i}.rs', '{:040x}', '100644', {i})",
                    i % 100,
                    i
                )
            })
            .collect();
        let blobs: Vec<String> = chunk
            .iter()
            .filter(|i| *i % 10 == 0)
            .map(|i| {
                let content = if pg {
                    "decode(repeat('ab', 2048), 'hex')".to_owned()
                } else {
                    "randomblob(4096)".into()
                };
                format!(
                    "('{:040x}', 4096, {}, {content}, {now})",
                    i,
                    if pg { "TRUE" } else { "1" }
                )
            })
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO files (project_sync_id, path, blob_sha, mode, size) VALUES {}",
            values.join(",")
        ))
        .await
        .expect("files");
        db.execute_unprepared(&format!(
            "INSERT INTO blobs (sha, size, \"binary\", content, created_at) VALUES {}",
            blobs.join(",")
        ))
        .await
        .expect("blobs");
    }
}

async fn timed<T, E: std::fmt::Display>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let took = start.elapsed();
    println!("  {what:<52} {:>9.1} ms", took.as_secs_f64() * 1000.0);
    (out, took)
}

async fn bench(engine: &str, url: &str, files: usize) {
    println!("{engine}, {files} files, {} blobs of 4 KiB:", files / 10);
    let url = DatabaseUrl::parse(url).expect("database URL");
    let db = store::connect(&url).await.expect("connect");
    store::migrate(&db).await.expect("migrate");
    fill(&db, files).await;

    timed("start with nothing pending (migrate)", store::migrate(&db)).await;
    timed("migrate check, nothing pending", store::check(&db)).await;
    timed("row counts of every table", store::row_counts(&db)).await;
    let (report, _) = timed(
        "migrate verify (scratch schema + compare + counts)",
        store::verify(&db),
    )
    .await;
    assert!(report.differences.is_empty());
    let set = || MigrationSet::real().with(Box::new(AddColumn), None);
    let (report, _) = timed(
        "migrate check, one additive migration pending",
        store::check_with(&db, &set()),
    )
    .await;
    assert!(report.problems().is_empty());
    let (applied, _) = timed(
        "migrate up of it (plan + counts before/after + apply)",
        store::migrate_with(&db, &set(), MigrateOptions::default()),
    )
    .await;
    assert_eq!(applied.len(), 1);
    let _ = db.close().await;
}

fn main() {
    let files: usize = std::env::var("FILES")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        bench("sqlite", &url, files).await;

        let Some(admin) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            println!("postgres: skipped (TEST_DATABASE_URL is not set)");
            return;
        };
        let name = format!("hubsync_bench_{}", std::process::id());
        let admin_db = sea_orm::Database::connect(&admin)
            .await
            .expect("connect admin");
        admin_db
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create");
        let mut url = url::Url::parse(&admin).expect("URL");
        url.set_path(&name);
        bench("postgres", url.as_str(), files).await;
        let _ = admin_db
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    });
}
