//! The foundation: schema on both engines, startup, migrations, health probes, the CLI.
use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

use hubsync::{startup, store};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

use crate::{
    db_test,
    support::{hubsync_bin, spawn_app, spawn_app_with, test_config},
};

const TABLES: [&str; 9] = [
    "installations",
    "repositories",
    "projects",
    "project_syncs",
    "sync_runs",
    "blobs",
    "files",
    "deliveries",
    "sync_events",
];

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<u64, sea_orm::DbErr> {
    db.execute_unprepared(sql).await.map(|r| r.rows_affected())
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn table_names(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DatabaseBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        _ => "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()",
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// An hour ago as an SQL timestamp literal: recent by any retention, on any day the suite runs.
fn recent() -> String {
    ago(chrono::Duration::hours(1))
}

/// `now - age` as an SQL literal, in the RFC 3339 form hubsync itself writes.
fn ago(age: chrono::Duration) -> String {
    format!(
        "'{}'",
        (chrono::Utc::now() - age).format("%Y-%m-%dT%H:%M:%S%:z")
    )
}

/// One row in each table, in foreign-key order.
async fn seed(db: &DatabaseConnection) {
    let now = recent();
    let b = db.get_database_backend();
    let (t, f) = if b == DatabaseBackend::Sqlite {
        ("1", "0")
    } else {
        ("TRUE", "FALSE")
    };
    for sql in [
        format!("INSERT INTO installations (id, account_login, account_id, account_type, created_at, updated_at) VALUES (1, 'octo-org', 10, 'Organization', {now}, {now})"),
        format!("INSERT INTO repositories (id, installation_id, full_name, default_branch, private, archived, created_at, updated_at) VALUES (100, 1, 'octo-org/hello', 'main', {t}, {f}, {now}, {now})"),
        format!("INSERT INTO projects (repository_id, created_at) VALUES (100, {now})"),
        format!("INSERT INTO project_syncs (project_id, branch, created_at, updated_at) VALUES (1, 'main', {now}, {now})"),
        format!("INSERT INTO sync_runs (project_sync_id, trigger, status, queued_at) VALUES (1, 'install', 'queued', {now})"),
        format!("INSERT INTO blobs (sha, size, {q}binary{q}, content, created_at) VALUES ('ce013625030ba8dba906f756967f9e9ca394464a', 6, {f}, {x}, {now})",
            q = '"', x = if b == DatabaseBackend::Sqlite { "X'68656c6c6f0a'" } else { "'\\x68656c6c6f0a'::bytea" }),
        "INSERT INTO files (project_sync_id, path, blob_sha, mode, size) VALUES (1, 'README.md', 'ce013625030ba8dba906f756967f9e9ca394464a', '100644', 6)".to_string(),
        format!("INSERT INTO deliveries (delivery_id, event, headers, payload, status, received_at) VALUES ('72d3162e-cc78-11e3-81ab-4c9367dc0958', 'ping', '{{}}', '{{\"zen\":\"x\"}}', 'processed', {now})"),
        format!("INSERT INTO sync_events (project_id, run_id, kind, data, created_at) VALUES (1, 1, 'queued', '{{}}', {now})"),
    ] {
        exec(db, &sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

db_test! {
    async fn migrating_an_empty_database_creates_every_table_and_constraint(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let now = recent();
        let tables = table_names(conn).await;
        for t in TABLES {
            assert!(tables.contains(&t.to_string()), "{t} missing from {tables:?} on {}", db.engine);
        }
        seed(conn).await;

        // Each unique constraint, proven by the database refusing a duplicate.
        for (what, sql) in [
            ("delivery id", format!("INSERT INTO deliveries (delivery_id, event, headers, payload, status, received_at) VALUES ('72d3162e-cc78-11e3-81ab-4c9367dc0958', 'push', '{{}}', '{{}}', 'received', {now})")),
            ("one project per repository", format!("INSERT INTO projects (repository_id, created_at) VALUES (100, {now})")),
            ("(project_sync_id, path)", "INSERT INTO files (project_sync_id, path, blob_sha, mode) VALUES (1, 'README.md', 'x', '100644')".to_string()),
            ("(project, branch)", format!("INSERT INTO project_syncs (project_id, branch, created_at, updated_at) VALUES (1, 'main', {now}, {now})")),
            ("one queued run per branch", format!("INSERT INTO sync_runs (project_sync_id, trigger, status, queued_at) VALUES (1, 'push', 'queued', {now})")),
            ("blob sha", format!("INSERT INTO blobs (sha, size, {q}binary{q}, created_at) VALUES ('ce013625030ba8dba906f756967f9e9ca394464a', 1, {f}, {now})", q = '"', f = if db.engine == "sqlite" { "0" } else { "FALSE" })),
        ] {
            assert!(exec(conn, &sql).await.is_err(), "{what} is not unique on {}", db.engine);
        }
        // Foreign keys are enforced (SQLite needs them switched on per connection).
        let orphan = format!("INSERT INTO project_syncs (project_id, branch, created_at, updated_at) VALUES (999, 'x', {now}, {now})");
        assert!(exec(conn, &orphan).await.is_err(), "foreign keys are off on {}", db.engine);
        // A second queued run is refused, but a running one beside the queued one is fine.
        exec(conn, &format!("INSERT INTO sync_runs (project_sync_id, trigger, status, queued_at) VALUES (1, 'push', 'running', {now})")).await.unwrap();

        let out = hubsync_bin().args(["migrate", "status"]).env("DATABASE_URL", &db.url).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        for name in migration_names() {
            assert!(stdout.contains(&format!("applied  {name}")), "{stdout}");
        }
        assert!(!stdout.contains("pending"), "{stdout}");
        app.stop().await;
    }
}

fn migration_names() -> Vec<String> {
    use migration::MigratorTrait;
    migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

db_test! {
    async fn a_second_start_applies_nothing_and_loses_nothing(db) {
        let app = spawn_app(&db).await;
        seed(&app.app.db).await;
        app.stop().await;

        // The shortest retention the setting allows still keeps the hour-old event: a restart
        // (and the retention pass it runs) loses nothing that is meant to be kept.
        let app = spawn_app_with(test_config(&db, &[("HUBSYNC_EVENT_RETENTION_DAYS", "0.5")])).await;
        let conn = &app.app.db;
        assert!(store::migrate(conn).await.unwrap().is_empty(), "nothing is pending after a restart");
        assert_eq!(count(conn, "seaql_migrations").await, migration_names().len() as i64);
        for t in TABLES {
            assert_eq!(count(conn, t).await, 1, "{t} lost or gained rows on {}", db.engine);
        }
        let row = conn
            .query_one_raw(Statement::from_string(conn.get_database_backend(), "SELECT content FROM blobs"))
            .await.unwrap().unwrap();
        assert_eq!(row.try_get::<Vec<u8>>("", "content").unwrap(), b"hello\n");
        app.stop().await;
    }
}

db_test! {
    async fn the_retention_pass_deletes_only_events_older_than_the_retention(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        seed(conn).await;
        let (f, old) = (if db.engine == "sqlite" { "0" } else { "FALSE" }, ago(chrono::Duration::days(30)));
        for sql in [
            // Rows of other tables far older than the retention: never the pass's business.
            format!("INSERT INTO deliveries (delivery_id, event, headers, payload, status, received_at) VALUES ('0c1d5d1e-0000-0000-0000-000000000001', 'ping', '{{}}', '{{}}', 'processed', {old})"),
            format!("INSERT INTO sync_runs (project_sync_id, trigger, status, queued_at, finished_at) VALUES (1, 'push', 'succeeded', {old}, {old})"),
            format!("INSERT INTO blobs (sha, size, {q}binary{q}, created_at) VALUES ('{sha}', 1, {f}, {old})", q = '"', sha = "e".repeat(40)),
        ] {
            exec(conn, &sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        for (days, kind) in [(8, "old"), (6, "kept"), (30, "oldest")] {
            exec(conn, &format!("INSERT INTO sync_events (project_id, kind, data, created_at) VALUES (1, '{kind}', '{{}}', {})", ago(chrono::Duration::days(days)))).await.unwrap();
        }
        let before: Vec<i64> = futures_util::future::join_all(TABLES.iter().map(|t| count(conn, t))).await;

        let deleted = hubsync::progress::prune(conn, Duration::from_secs(7 * 86_400)).await.unwrap();
        assert_eq!(deleted, 2, "the 8- and 30-day-old events on {}", db.engine);
        let kinds: Vec<String> = conn
            .query_all_raw(Statement::from_string(conn.get_database_backend(), "SELECT kind FROM sync_events ORDER BY id"))
            .await.unwrap().iter().map(|r| r.try_get::<String>("", "kind").unwrap()).collect();
        assert_eq!(kinds, ["queued", "kept"], "the recent and the 6-day-old events stay on {}", db.engine);
        for (t, n) in TABLES.iter().zip(before) {
            let expected = if *t == "sync_events" { n - 2 } else { n };
            assert_eq!(count(conn, t).await, expected, "{t} on {}", db.engine);
        }
        // A second pass has nothing left to do.
        assert_eq!(hubsync::progress::prune(conn, Duration::from_secs(7 * 86_400)).await.unwrap(), 0);
        app.stop().await;
    }
}

db_test! {
    async fn a_database_from_a_newer_binary_is_refused(db) {
        let app = spawn_app(&db).await;
        exec(&app.app.db, "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_from_the_future', 0)").await.unwrap();
        app.stop().await;

        let err = startup::run(test_config(&db, &[])).await.err().expect("start is refused");
        assert!(err.to_string().contains("m29990101_000001_from_the_future"), "{err}");

        let out = hubsync_bin().args(["serve", "--bind", "127.0.0.1:0"]).env("DATABASE_URL", &db.url).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: ") && last.contains("does not know"), "{stderr}");
    }
}

db_test! {
    async fn health_and_readiness(db) {
        let app = spawn_app(&db).await;
        let r = app.get("/healthz").await;
        assert_eq!(r.status(), 200);
        let r = app.get("/readyz").await;
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["database"], db.engine);

        let r = app.get("/no/such/route").await;
        assert_eq!(r.status(), 404);
        assert!(r.json::<serde_json::Value>().await.unwrap()["error"].is_string());

        // With the database gone, readiness fails with a JSON reason while liveness holds.
        app.app.db.close_by_ref().await.unwrap();
        let r = app.get("/readyz").await;
        assert_eq!(r.status(), 503);
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("database"), "{body}");
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let db = crate::support::TestDb::sqlite().await;
    let app = spawn_app_with(test_config(&db, &[])).await;
    let conn = &app.app.db;
    let get = |sql: &'static str| async move {
        let row = conn
            .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<String>(0)
            .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
            .unwrap()
    };
    assert_eq!(get("PRAGMA journal_mode").await, "wal");
    assert_eq!(get("PRAGMA foreign_keys").await, "1");
    assert_eq!(get("PRAGMA busy_timeout").await, "10000");
    app.stop().await;
}

#[test]
fn bad_configuration_exits_with_one_line_naming_the_variable() {
    for (var, value) in [
        ("HUBSYNC_BIND", "not-an-address"),
        ("DATABASE_URL", "mysql://x"),
        ("GITHUB_APP_ID", "twelve"),
    ] {
        let out = hubsync_bin().env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(var), "{stderr}");
    }
    let out = hubsync_bin().arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
}

#[test]
fn help_explains_each_command() {
    let out = hubsync_bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("serve") && help.contains("migrate"), "{help}");
    let out = hubsync_bin().args(["migrate", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("up") && help.contains("status"), "{help}");
}

/// The newcomer's path: no DATABASE_URL, a bare directory, `hubsync serve`, then SIGTERM.
#[test]
fn serve_on_the_embedded_default_and_stop_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = hubsync_bin()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("HUBSYNC_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("a 'listening' log line").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        if v["message"] == "listening" {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    assert!(
        dir.path().join("hubsync.db").exists(),
        "the default SQLite file is created"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::get(format!("http://{addr}/readyz"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (exited, status) = std::sync::mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait().unwrap()));
    let status = status
        .recv_timeout(Duration::from_secs(20))
        .expect("hubsync stops on SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// The manifest GitHub's "create app from manifest" flow receives: the fields GitHub requires,
/// read-only permissions and the branch events hubsync syncs from.
#[test]
fn app_manifest_is_a_valid_github_app_manifest() {
    let raw =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/app-manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&raw).unwrap();
    for key in ["name", "url", "redirect_url", "setup_url"] {
        assert!(m[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
    }
    assert!(m["hook_attributes"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/webhooks/github"));
    assert_eq!(m["public"], false);
    assert_eq!(
        m["default_permissions"],
        serde_json::json!({ "contents": "read", "metadata": "read", "members": "read" }),
        "read-only; members tells organisation owners from members at sign-in"
    );
    assert!(m["callback_urls"][0]
        .as_str()
        .unwrap()
        .ends_with("/login/github/callback"));
    let events: Vec<&str> = m["default_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for e in ["push", "create", "delete", "repository"] {
        assert!(events.contains(&e), "{e}");
    }
}
