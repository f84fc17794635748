//! The operator's commands: `migrate check`, `migrate verify`, `--allow-data-loss`, and no way to
//! run down/fresh/reset/refresh.
use sea_orm::ConnectionTrait;

use super::{apply::schema_and_counts, filled};
use crate::{db_test, support::hubsync_bin};

fn run(db: &crate::support::TestDb, args: &[&str]) -> (Option<i32>, String, String) {
    let out = hubsync_bin()
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("hubsync runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

db_test! {
    async fn migrate_check_lists_pending_sql_and_exits_zero_when_safe(db) {
        let (code, out, err) = run(&db, &["migrate", "check"]);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("pending  m20261126_000001_initial  (additive)"), "{out}");
        assert!(out.contains("CREATE UNIQUE INDEX uq_sync_runs_one_queued"), "{out}");
        assert!(!out.contains("DESTRUCTIVE"), "{out}");

        let (code, out, err) = run(&db, &["migrate", "up", "--allow-data-loss"]);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("applied  m20261126_000001_initial"), "{out}");
        assert!(err.contains("--allow-data-loss given"), "the flag is logged loudly: {err}");
        let (code, out, _) = run(&db, &["migrate", "check"]);
        assert_eq!(code, Some(0));
        assert!(out.contains("nothing pending"), "{out}");

        // Not safe: a newer hubsync migrated this database. Non-zero, with the reason.
        let conn = crate::migrations::connect(&db).await;
        conn.execute_unprepared("INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_from_the_future', 0)").await.unwrap();
        let (code, out, err) = run(&db, &["migrate", "check"]);
        assert_eq!(code, Some(1), "{out}{err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: ") && last.contains("m29990101_000001_from_the_future"), "{err}");
    }
}

db_test! {
    async fn migrate_verify_passes_then_names_each_difference(db) {
        let conn = filled(&db).await;
        let (code, out, err) = run(&db, &["migrate", "verify"]);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("schema: matches this binary"), "{out}");
        assert!(out.lines().any(|l| l.trim_start().starts_with("files") && l.trim_end().ends_with("10000")), "{out}");

        // Someone edits the schema by hand.
        conn.execute_unprepared("ALTER TABLE files ADD COLUMN extra TEXT").await.unwrap();
        conn.execute_unprepared("DROP INDEX idx_files_blob_sha").await.unwrap();
        conn.execute_unprepared("CREATE TABLE scratchpad (x INTEGER)").await.unwrap();
        let (code, out, err) = run(&db, &["migrate", "verify"]);
        assert_eq!(code, Some(1), "{out}{err}");
        for expected in [
            "column files.extra is not in this binary's schema",
            "index idx_files_blob_sha on files is missing",
            "table scratchpad is not in this binary's schema",
        ] {
            assert!(out.contains(expected), "{expected} not in {out}");
        }
        let last = err.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: the schema does not match"), "{err}");
    }
}

db_test! {
    async fn verify_finds_a_column_whose_type_changed(db) {
        let conn = filled(&db).await;
        if db.engine == "postgres" {
            conn.execute_unprepared("ALTER TABLE files ALTER COLUMN mode TYPE VARCHAR(10)").await.unwrap();
        } else {
            conn.execute_unprepared("ALTER TABLE files DROP COLUMN size; ALTER TABLE files ADD COLUMN size TEXT").await.unwrap();
        }
        let report = hubsync::store::verify(&conn).await.unwrap();
        let column = if db.engine == "postgres" { "files.mode" } else { "files.size" };
        assert!(report.differences.iter().any(|d| d.starts_with(&format!("column {column} is "))), "{:?}", report.differences);
    }
}

db_test! {
    async fn no_down_fresh_reset_or_refresh_is_reachable(db) {
        let conn = filled(&db).await;
        let before = schema_and_counts(&conn).await;
        for action in ["down", "fresh", "reset", "refresh"] {
            for extra in [&[][..], &["--allow-data-loss"][..]] {
                let mut args = vec!["migrate", action];
                args.extend_from_slice(extra);
                let (code, _, err) = run(&db, &args);
                assert_eq!(code, Some(2), "migrate {action} {extra:?}: {err}");
            }
        }
        assert_eq!(schema_and_counts(&conn).await, before);
    }
}

/// The other half of "not reachable": nothing in the code calls sea-orm-migration's destructive
/// entry points, and the migration crate does not build its CLI (which offers them).
#[test]
fn no_code_calls_the_destructive_migrator_entry_points() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut offenders = Vec::new();
    let mut stack = vec![format!("{root}/src"), format!("{root}/migration/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path.display().to_string());
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for call in [
                    "::down(",
                    "::fresh(",
                    "::reset(",
                    "::refresh(",
                    "::uninstall(",
                    "run_cli",
                    "drop_everything",
                ] {
                    if text.contains(call) {
                        offenders.push(format!("{} calls {call}", path.display()));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
    let manifest = std::fs::read_to_string(format!("{root}/migration/Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("\"cli\""),
        "the migration crate must not enable sea-orm-migration's cli"
    );
}

/// `serve --allow-data-loss` is accepted and says so loudly before anything is migrated.
#[test]
fn serve_with_allow_data_loss_warns_before_migrating() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = hubsync_bin()
        .args(["serve", "--allow-data-loss", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("HUBSYNC_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut messages = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        let message = v["message"].as_str().unwrap_or_default().to_owned();
        if message.contains("--allow-data-loss") {
            assert_eq!(v["level"], "WARN", "{line}");
        }
        messages.push(message);
        if messages.last().is_some_and(|m| m == "listening") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let warned = messages
        .iter()
        .position(|m| m.contains("--allow-data-loss given"));
    let ready = messages.iter().position(|m| m == "database ready");
    assert!(
        matches!((warned, ready), (Some(w), Some(r)) if w < r),
        "{messages:?}"
    );
}
