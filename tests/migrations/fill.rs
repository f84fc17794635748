//! Realistic rows written with only the initial schema's columns (later migrations are additive,
//! so these inserts must keep working), and a digest of every row and byte to compare against.
use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{
    sea_query::{Alias, Query, SimpleExpr},
    ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value,
};
use sha2::{Digest, Sha256};

pub const FILES: usize = 10_000;
pub const BLOBS: usize = 300;

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

fn sha(i: usize) -> String {
    hex::encode(Sha256::digest(format!("blob {i}")))[..40].to_owned()
}

/// Content of blob `i`: text, every byte value, invalid UTF-8, empty, large, or none at all.
pub fn blob_content(i: usize) -> Option<Vec<u8>> {
    match i % 6 {
        0 => Some(format!("fn main() {{ println!(\"blob {i} — ünïcødé ✓\"); }}\n").into_bytes()),
        1 => Some((0..=255u8).cycle().skip(i % 256).take(1024 + i).collect()),
        2 => Some(vec![0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, i as u8]),
        3 => Some(vec![]),
        4 if i == 4 => Some((0..256 * 1024).map(|n| (n * 31 % 251) as u8).collect()),
        4 => Some(
            format!("# README {i}\r\n\ttabs\0nul and 'quotes' \"double\" \\\\ back").into_bytes(),
        ),
        _ => None, // over the size limit: listed, not stored
    }
}

async fn insert(db: &DatabaseConnection, table: &str, cols: &[&str], rows: Vec<Vec<Value>>) {
    for chunk in rows.chunks(500) {
        let mut q = Query::insert();
        q.into_table(Alias::new(table))
            .columns(cols.iter().map(|c| Alias::new(*c)));
        for r in chunk {
            q.values(r.iter().cloned().map(SimpleExpr::from))
                .expect("values match columns");
        }
        db.execute(&q)
            .await
            .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }
}

/// Fills every table: installations, repositories, projects, branch selections, runs, blobs with
/// binary content, 10,000 files, deliveries and events.
pub async fn fill(db: &DatabaseConnection) {
    insert(
        db,
        "installations",
        &[
            "id",
            "account_login",
            "account_id",
            "account_type",
            "repository_selection",
            "suspended_at",
            "created_at",
            "updated_at",
        ],
        vec![
            vec![
                1i64.into(),
                "octo-org".into(),
                10i64.into(),
                "Organization".into(),
                "selected".into(),
                Value::ChronoDateTimeUtc(None),
                at(0).into(),
                at(1).into(),
            ],
            vec![
                2i64.into(),
                "mona".into(),
                11i64.into(),
                "User".into(),
                "all".into(),
                Value::ChronoDateTimeUtc(None),
                at(2).into(),
                at(2).into(),
            ],
            vec![
                3i64.into(),
                "suspended-co".into(),
                12i64.into(),
                "Organization".into(),
                Value::String(None),
                at(9).into(),
                at(3).into(),
                at(9).into(),
            ],
        ],
    )
    .await;
    let repos: Vec<Vec<Value>> = (0..6i64)
        .map(|r| {
            vec![
                (100 + r).into(),
                (1 + r % 3).into(),
                format!("octo-org/répo-{r}").into(),
                if r % 2 == 0 { "main" } else { "trunk" }.into(),
                (r % 2 == 0).into(),
                (r == 5).into(),
                at(10 + r).into(),
                at(20 + r).into(),
            ]
        })
        .collect();
    insert(
        db,
        "repositories",
        &[
            "id",
            "installation_id",
            "full_name",
            "default_branch",
            "private",
            "archived",
            "created_at",
            "updated_at",
        ],
        repos,
    )
    .await;
    insert(
        db,
        "projects",
        &["repository_id", "created_at"],
        (0..6i64)
            .map(|r| vec![(100 + r).into(), at(30 + r).into()])
            .collect(),
    )
    .await;
    let syncs: Vec<Vec<Value>> = (0..12i64)
        .map(|s| {
            vec![
                (1 + s / 2).into(),
                if s % 2 == 0 {
                    "main".to_owned()
                } else {
                    "release/*".to_owned()
                }
                .into(),
                (s % 2 == 1).into(),
                "idle".into(),
                Some(sha(s as usize)).into(),
                at(40 + s).into(),
                at(40).into(),
                at(41).into(),
            ]
        })
        .collect();
    insert(
        db,
        "project_syncs",
        &[
            "project_id",
            "branch",
            "is_pattern",
            "state",
            "last_synced_sha",
            "last_synced_at",
            "created_at",
            "updated_at",
        ],
        syncs,
    )
    .await;
    let mut runs = Vec::new();
    for s in 1..=12i64 {
        for (k, status) in ["succeeded", "failed", "queued"].iter().enumerate() {
            let error =
                (*status == "failed").then(|| "GitHub answered 502 — retried 5 times".to_owned());
            runs.push(vec![
                s.into(),
                "push".into(),
                Some(sha(s as usize)).into(),
                status.to_string().into(),
                (k as i32).into(),
                (1000 * s).into(),
                at(50 + s).into(),
                error.into(),
            ]);
        }
    }
    insert(
        db,
        "sync_runs",
        &[
            "project_sync_id",
            "trigger",
            "target_sha",
            "status",
            "attempt",
            "files_total",
            "queued_at",
            "error",
        ],
        runs,
    )
    .await;
    // Tables added by later migrations are filled when the database has them already.
    if has_table(db, "sync_run_attempts").await {
        let attempts: Vec<Vec<Value>> = (1..=36i64)
            .flat_map(|run| {
                (1..=run % 3 + 1).map(move |n| {
                    let failed = n <= run % 3;
                    vec![
                        run.into(),
                        (n as i32).into(),
                        format!("host-ü:{run}:0").into(),
                        if failed { "failed" } else { "succeeded" }.into(),
                        failed
                            .then(|| {
                                format!(
                                    "GitHub answered 502 for GET /x: text/html, \"<h1>{n}</h1>\""
                                )
                            })
                            .into(),
                        (n * 3).into(),
                        (n * 1000).into(),
                        (n * 7).into(),
                        at(50 + run + n).into(),
                        Some(at(51 + run + n)).into(),
                    ]
                })
            })
            .collect();
        insert(
            db,
            "sync_run_attempts",
            &[
                "run_id",
                "attempt",
                "worker",
                "status",
                "error",
                "files_fetched",
                "bytes_fetched",
                "api_requests",
                "started_at",
                "finished_at",
            ],
            attempts,
        )
        .await;
    }
    let blobs: Vec<Vec<Value>> = (0..BLOBS)
        .map(|i| {
            let content = blob_content(i);
            let size = content.as_ref().map_or(50_000_000, Vec::len) as i64;
            vec![
                sha(i).into(),
                size.into(),
                (i % 6 == 1 || i % 6 == 2).into(),
                Value::Bytes(content),
                at(60).into(),
            ]
        })
        .collect();
    insert(
        db,
        "blobs",
        &["sha", "size", "binary", "content", "created_at"],
        blobs,
    )
    .await;
    let files: Vec<Vec<Value>> = (0..FILES)
        .map(|i| {
            let ext = ["rs", "md", "png", "toml"][i % 4];
            let blob = if i % 97 == 0 {
                "1111111111111111111111111111111111111111".to_owned()
            } else {
                sha(i % BLOBS)
            };
            let mode = if i % 97 == 0 {
                "160000"
            } else if i % 50 == 0 {
                "100755"
            } else {
                "100644"
            };
            vec![
                (1 + (i % 12) as i64).into(),
                format!("src/dir-{}/ñame {i}.{ext}", i % 40).into(),
                blob.into(),
                mode.into(),
                Some((i * 7) as i64).into(),
            ]
        })
        .collect();
    insert(
        db,
        "files",
        &["project_sync_id", "path", "blob_sha", "mode", "size"],
        files,
    )
    .await;
    let deliveries: Vec<Vec<Value>> = (0..200)
        .map(|i| {
            let headers = serde_json::json!({"X-GitHub-Event": "push", "X-GitHub-Delivery": format!("d-{i}")});
            let payload = format!(r#"{{"ref":"refs/heads/main","after":"{}","head_commit":{{"message":"fix: “quotes” and \\n newlines {i}"}}}}"#, sha(i));
            vec![format!("72d3162e-cc78-11e3-81ab-{i:012}").into(), "push".into(), Some("created".to_owned()).into(), Some(1i64).into(), Some(7i64).into(), headers.into(), payload.into(), if i % 3 == 0 { "received" } else { "processed" }.into(), at(70 + i as i64).into()]
        })
        .collect();
    insert(
        db,
        "deliveries",
        &[
            "delivery_id",
            "event",
            "action",
            "installation_id",
            "hook_id",
            "headers",
            "payload",
            "status",
            "received_at",
        ],
        deliveries,
    )
    .await;
    let events: Vec<Vec<Value>> = (0..500i64)
        .map(|i| {
            vec![
                (1 + i % 6).into(),
                Some(1 + i % 36).into(),
                ["queued", "started", "progress", "finished"][(i % 4) as usize].into(),
                serde_json::json!({"files": i, "path": format!("src/ñ/{i}.rs")}).into(),
                at(80 + i).into(),
            ]
        })
        .collect();
    insert(
        db,
        "sync_events",
        &["project_id", "run_id", "kind", "data", "created_at"],
        events,
    )
    .await;
    // Tables added by later migrations, filled when the database is at or past them.
    if has_table(db, "sessions").await {
        let sessions: Vec<Vec<Value>> = (0..20i64)
            .map(|i| {
                vec![
                    hex::encode(Sha256::digest(format!("session {i}"))).into(),
                    (i % 3 != 0).then(|| "0123456789abcdef".to_owned()).into(),
                    at(i).into(),
                    at(i + 7 * 24 * 60).into(),
                    at(i + 30).into(),
                    if i % 4 == 0 { Some(at(i + 60)) } else { None }.into(),
                ]
            })
            .collect();
        insert(
            db,
            "sessions",
            &[
                "secret_sha256",
                "admin_token_id",
                "created_at",
                "expires_at",
                "last_seen_at",
                "revoked_at",
            ],
            sessions,
        )
        .await;
    }
}

async fn has_table(db: &DatabaseConnection, table: &str) -> bool {
    let sql = if db.get_database_backend() == DatabaseBackend::Postgres {
        format!("SELECT tablename::text AS v FROM pg_tables WHERE schemaname = current_schema() AND tablename = '{table}'")
    } else {
        format!("SELECT name AS v FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
    };
    !strings(db, sql).await.is_empty()
}

async fn strings(db: &DatabaseConnection, sql: String) -> Vec<String> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        sql.clone(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .iter()
    .map(|r| r.try_get::<String>("", "v").unwrap())
    .collect()
}

/// Per table: its columns, row count, and SHA-256 over every row rendered in full by the engine
/// itself (blobs as hex). Over `columns` when given (the columns before an upgrade: the ones
/// added since do not count), else over the columns each table has now.
pub type Tables = BTreeMap<String, (Vec<String>, usize, String)>;

pub async fn digest(db: &DatabaseConnection, columns: Option<&Tables>) -> Tables {
    let pg = db.get_database_backend() == DatabaseBackend::Postgres;
    let tables = if pg {
        "SELECT tablename::text AS v FROM pg_tables WHERE schemaname = current_schema()"
    } else {
        "SELECT name AS v FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    };
    let mut out = BTreeMap::new();
    for t in strings(db, tables.to_owned()).await {
        if t == "seaql_migrations" {
            continue;
        }
        let cols = if pg {
            format!("SELECT column_name::text AS v FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{t}' ORDER BY ordinal_position")
        } else {
            format!("SELECT name AS v FROM pragma_table_info('{t}') ORDER BY cid")
        };
        let cols = match columns.and_then(|c| c.get(&t)) {
            Some((c, _, _)) => c.clone(),
            None => strings(db, cols).await,
        };
        let row = if pg {
            format!(
                "ROW({})::text",
                cols.iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            cols.iter()
                .map(|c| format!("quote(\"{c}\")"))
                .collect::<Vec<_>>()
                .join(" || '|' || ")
        };
        let rows = strings(db, format!("SELECT {row} AS v FROM \"{t}\" ORDER BY 1")).await;
        let mut h = Sha256::new();
        for r in &rows {
            h.update(r.as_bytes());
            h.update(b"\n");
        }
        out.insert(t, (cols, rows.len(), hex::encode(h.finalize())));
    }
    out
}

/// Every blob's bytes, read back typed and compared with what was written.
pub async fn assert_blobs_intact(db: &DatabaseConnection) {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT sha, content FROM blobs",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), BLOBS);
    let by_sha: BTreeMap<String, Option<Vec<u8>>> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "sha").unwrap(),
                r.try_get("", "content").unwrap(),
            )
        })
        .collect();
    for i in 0..BLOBS {
        assert_eq!(
            by_sha.get(&sha(i)),
            Some(&blob_content(i)),
            "blob {i} changed"
        );
    }
}
