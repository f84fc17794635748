//! Sync cost: the hubsync binary (a child process, so its peak RSS is its own) syncing generated
//! repositories from the fake GitHub (in this process): an initial sync of N files, then pushes
//! changing k files. Prints wall time, GitHub requests by route, bytes fetched, peak RSS and
//! per-phase timings, and checks the targets of issue 8.
//!
//! `cargo bench --bench sync_cost`; BENCH_SIZES=1000,10000,50000 and BENCH_PUSHES=1,10,100,1000
//! change the matrix; PostgreSQL too when BENCH_DATABASE_URL or TEST_DATABASE_URL is set.
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{mib, ms, ChildApp};
use hubsync::store::entities::{project_syncs, sync_events, sync_runs};
use sea_orm::{ColumnTrait, Database, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use support::{
    fake_github::{route, FakeGithub, FakeRepo},
    synced,
    webhooks::SECRET,
};

const WAIT: Duration = Duration::from_secs(900);
const ROUTES: [(&str, &str); 6] = [
    ("branch", route::BRANCH),
    ("tree", route::TREE),
    ("blob", route::BLOB),
    ("tarball", route::TARBALL),
    // The tarball answers with a redirect to codeload, as GitHub does: one download, two requests.
    ("codeload", route::CODELOAD),
    ("other", ""),
];

/// Deterministic bytes: xorshift, so sizes and contents are the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 16] = [
    "fn", "let", "match", "sync", "branch", "tree", "blob", "manifest", "=>", "{", "}", ";",
    "return", "self", "impl", "async",
];

/// One file of the generated repository: 85% text of 0.2-2 KB, 10% text of 2-8 KB, 4% binary of
/// 1-8 KB, 1% text of 32-64 KB. Every file is distinct (its index is in it).
fn content(i: usize, rng: &mut Rng) -> (String, Vec<u8>) {
    let dir = format!("src/d{:02}/s{:02}", i % 50, (i / 50) % 20);
    let roll = rng.below(100);
    let (size, binary) = match roll {
        0..=84 => (200 + rng.below(1800), false),
        85..=94 => (2048 + rng.below(6144), false),
        95..=98 => (1024 + rng.below(7168), true),
        _ => (32768 + rng.below(32768), false),
    };
    if binary {
        let mut bytes = format!("\0bin{i}\0").into_bytes();
        while (bytes.len() as u64) < size {
            bytes.extend_from_slice(&rng.next().to_le_bytes());
        }
        return (format!("{dir}/asset{i}.bin"), bytes);
    }
    let mut text = format!("// file {i}\n");
    while (text.len() as u64) < size {
        for _ in 0..8 {
            text.push_str(WORDS[rng.below(16) as usize]);
            text.push(' ');
        }
        text.push('\n');
    }
    (format!("{dir}/file{i}.rs"), text.into_bytes())
}

/// Writes N files in the working clone, commits and pushes; returns the paths of text files.
fn generate(repo: &FakeRepo, n: usize) -> Vec<String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let mut text = Vec::new();
    for i in 0..n {
        let (path, bytes) = content(i, &mut rng);
        if path.ends_with(".rs") {
            text.push(path.clone());
        }
        repo.write(&path, bytes);
    }
    repo.commit(&format!("{n} files"));
    repo.push("main");
    text
}

async fn latest_run(db: &DatabaseConnection, sel: i64) -> sync_runs::Model {
    sync_runs::Entity::find()
        .filter(sync_runs::Column::ProjectSyncId.eq(sel))
        .order_by_desc(sync_runs::Column::Id)
        .one(db)
        .await
        .expect("runs readable")
        .expect("a run")
}

/// Where a run's time went, from its row and its progress events: queued -> started (claim),
/// started -> first `progress` (branch, tree, manifest read, diff, blob lookup), then fetching
/// and storing content, then the manifest swap (-> `succeeded`, written in the swap transaction).
async fn phases(db: &DatabaseConnection, run: &sync_runs::Model) -> Value {
    let events = sync_events::Entity::find()
        .filter(sync_events::Column::RunId.eq(run.id))
        .order_by_asc(sync_events::Column::Id)
        .all(db)
        .await
        .unwrap_or_default();
    let at = |kind: &str| events.iter().find(|e| e.kind == kind).map(|e| e.created_at);
    let last_progress = events
        .iter()
        .rev()
        .find(|e| e.kind == "progress")
        .map(|e| e.created_at);
    let span = |a: Option<chrono::DateTime<chrono::Utc>>,
                b: Option<chrono::DateTime<chrono::Utc>>| {
        match (a, b) {
            (Some(a), Some(b)) => json!((b - a).num_milliseconds()),
            _ => Value::Null,
        }
    };
    json!({
        "claim_ms": span(Some(run.queued_at), run.started_at),
        "plan_ms": span(run.started_at, at("progress")),
        "fetch_ms": span(at("progress"), last_progress),
        "fetch_and_swap_ms": span(last_progress, run.finished_at),
        "run_ms": span(run.started_at, run.finished_at),
    })
}

async fn selection_id(db: &DatabaseConnection, repo: i64) -> i64 {
    let sel: project_syncs::Model = synced::selection(db, repo, "main").await.expect("selected");
    sel.id
}

/// Polls more often than `synced::wait_synced` (5 ms): the wall time is what is measured.
async fn wait_synced(db: &DatabaseConnection, repo: i64, sha: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(sel) = synced::selection(db, repo, "main").await {
            if sel.last_synced_sha.as_deref() == Some(sha) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "main never reached {sha}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn requests(fake: &FakeGithub) -> Value {
    let known: u64 = ROUTES.iter().map(|(_, r)| fake.requests(r)).sum();
    let mut m = serde_json::Map::new();
    for (name, r) in ROUTES {
        let n = if r.is_empty() {
            fake.total_requests() - known
        } else {
            fake.requests(r)
        };
        m.insert(name.into(), json!(n));
    }
    Value::Object(m)
}

/// Size of what the fake serves as the tarball of `rev` (git archive, gzip).
fn tarball_bytes(repo: &FakeRepo, rev: &str) -> u64 {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "git --git-dir '{}' archive --format=tar.gz {rev} | wc -c",
            repo.bare.display()
        ))
        .output()
        .expect("git archive");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

struct Row {
    report: Value,
    line: String,
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    label: &str,
    k: usize,
    fake: &FakeGithub,
    app: &ChildApp,
    db: &DatabaseConnection,
    repo: &FakeRepo,
    sel: i64,
    wall: Duration,
) -> Row {
    let run = latest_run(db, sel).await;
    let req = requests(fake);
    let (tree, blob, tarball) = (
        req["tree"].as_u64().unwrap_or(0),
        req["blob"].as_u64().unwrap_or(0),
        req["tarball"].as_u64().unwrap_or(0),
    );
    let tar_bytes = if tarball > 0 {
        tarball_bytes(repo, "main")
    } else {
        0
    };
    // Issue 8: a push of k files costs at most 1 tree + k blob requests, or 1 tarball.
    let pass = k == 0
        || (tree <= 1 && ((tarball == 0 && blob <= k as u64) || (tarball == 1 && blob == 0)));
    let phases = phases(db, &run).await;
    let peak = app.peak_rss_kib();
    // What the resident memory is now: the heap (anonymous) versus mapped files.
    let (anon, file) = (
        common::status_kib(app.pid(), "RssAnon").unwrap_or(0),
        common::status_kib(app.pid(), "RssFile").unwrap_or(0),
    );
    let line = format!(
        "{label:<16} {:>9.0} ms  branch {:>2} tree {:>2} blob {:>5} tarball {} other {:>2}  \
         fetched {:>6} files {:>9.1} KiB (tarball {:>8.1} KiB)  peak RSS {:>6.1} MiB (now heap {:>5.1}, files {:>4.1})  \
         plan {} ms, fetch+swap {} ms  {}",
        ms(wall),
        req["branch"],
        tree,
        blob,
        tarball,
        req["other"],
        run.files_fetched,
        run.bytes_fetched as f64 / 1024.0,
        tar_bytes as f64 / 1024.0,
        mib(peak),
        mib(anon),
        mib(file),
        phases["plan_ms"],
        (run.finished_at.zip(run.started_at))
            .map(|(f, s)| (f - s).num_milliseconds())
            .unwrap_or(0)
            - phases["plan_ms"].as_i64().unwrap_or(0),
        if k == 0 {
            ""
        } else if pass {
            "PASS"
        } else {
            "FAIL"
        },
    );
    Row {
        report: json!({
            "case": label, "changed_files": k, "wall_ms": ms(wall), "requests": req,
            "files_total": run.files_total, "files_changed": run.files_changed,
            "files_fetched": run.files_fetched, "bytes_fetched": run.bytes_fetched,
            "tarball_bytes": tar_bytes, "api_requests": run.api_requests,
            "peak_rss_kib": peak, "rss_anon_kib_after": anon, "rss_file_kib_after": file,
            "phases": phases, "status": run.status,
            "request_target": if k == 0 { Value::Null } else { json!(if pass { "PASS" } else { "FAIL" }) },
        }),
        line,
    }
}

async fn bench(engine: &str, n: usize, pushes: &[usize], rows: &mut Vec<Value>) {
    let Some(testdb) = common::fresh_db(engine).await else {
        return;
    };
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("bench-org");
    let repo = fake.create_repo(inst, &format!("repo{n}"));
    let t = Instant::now();
    let text = generate(&repo, n);
    eprintln!(
        "[{engine} {n}] generated in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let app = ChildApp::start(Some(&fake), &testdb, &[]).await;
    let db = Database::connect(&testdb.url)
        .await
        .expect("bench connects");
    let client = reqwest::Client::new();
    let hook = app.url("/webhooks/github");
    fake.reset_counts();
    app.reset_peak();
    let t = Instant::now();
    let r = fake
        .installation_event(inst, "created")
        .send(&client, &hook, SECRET)
        .await;
    assert_eq!(r.status(), 202);
    let head = repo.head("main").unwrap();
    // The selection appears once the installation is processed.
    let deadline = Instant::now() + WAIT;
    while synced::selection(&db, repo.id, "main").await.is_none() {
        assert!(Instant::now() < deadline, "no selection");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_synced(&db, repo.id, &head).await;
    let sel = selection_id(&db, repo.id).await;
    let row = measure(
        &format!("initial {n}"),
        0,
        &fake,
        &app,
        &db,
        &repo,
        sel,
        t.elapsed(),
    )
    .await;
    println!("{engine:<8} {n:>6} files  {}", row.line);
    rows.push(json!({ "engine": engine, "files": n, "result": row.report }));

    for (round, &k) in pushes.iter().enumerate() {
        let k = k.min(text.len());
        let step = (text.len() / k).max(1);
        for j in 0..k {
            let path = &text[(j * step) % text.len()];
            let mut old = std::fs::read(repo.work.join(path)).unwrap();
            old.extend_from_slice(format!("// change {round} {j}\n").as_bytes());
            repo.write(path, old);
        }
        repo.commit(&format!("change {k} files"));
        let push = repo.push("main");
        fake.reset_counts();
        app.reset_peak();
        let t = Instant::now();
        let r = fake.push_event(&push).send(&client, &hook, SECRET).await;
        assert_eq!(r.status(), 202);
        wait_synced(&db, repo.id, &push.after).await;
        let row = measure(
            &format!("push {k}"),
            k,
            &fake,
            &app,
            &db,
            &repo,
            sel,
            t.elapsed(),
        )
        .await;
        println!("{engine:<8} {n:>6} files  {}", row.line);
        rows.push(json!({ "engine": engine, "files": n, "result": row.report }));
    }
    let _ = db.close().await;
    app.stop();
    fake.stop().await;
}

/// Time grows with k, not with repository size: a push of k files into the largest repository
/// takes at most 3x (plus 100 ms) what the same push takes in the smallest.
fn scaling_checks(rows: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    let wall = |e: &str, n: u64, k: u64| {
        rows.iter()
            .find(|r| {
                r["engine"] == e && r["files"] == n && r["result"]["changed_files"] == k && k > 0
            })
            .and_then(|r| r["result"]["wall_ms"].as_f64())
    };
    for engine in ["sqlite", "postgres"] {
        let sizes: Vec<u64> = {
            let mut s: Vec<u64> = rows
                .iter()
                .filter(|r| r["engine"] == engine)
                .filter_map(|r| r["files"].as_u64())
                .collect();
            s.sort();
            s.dedup();
            s
        };
        let (Some(&small), Some(&large)) = (sizes.first(), sizes.last()) else {
            continue;
        };
        if small == large {
            continue;
        }
        for k in [1u64, 10, 100, 1000] {
            let (Some(a), Some(b)) = (wall(engine, small, k), wall(engine, large, k)) else {
                continue;
            };
            let pass = b <= 3.0 * a + 100.0;
            println!(
                "{engine:<8} push {k:>4}: {a:>8.0} ms at {small} files, {b:>8.0} ms at {large} files \
                 ({:.1}x): {}",
                b / a,
                if pass { "PASS" } else { "FAIL" }
            );
            out.push(json!({ "engine": engine, "changed_files": k, "small": small, "large": large,
                             "small_ms": a, "large_ms": b, "result": if pass { "PASS" } else { "FAIL" } }));
        }
    }
    out
}

#[tokio::main]
async fn main() {
    let sizes = common::list_var("BENCH_SIZES", &[1000, 10_000, 50_000]);
    let pushes = common::list_var("BENCH_PUSHES", &[1, 10, 100, 1000]);
    println!(
        "sync_cost: hubsync as a child process (peak RSS is its VmHWM, reset per phase); the fake \
         GitHub runs in the bench process. Sizes {sizes:?}, pushes {pushes:?}."
    );
    let mut rows = Vec::new();
    for engine in common::engines() {
        for &n in &sizes {
            bench(engine, n, &pushes, &mut rows).await;
        }
    }
    println!("-- time grows with k, not with repository size (large <= 3x small + 100 ms):");
    let scaling = scaling_checks(&rows);
    let rss_target: Vec<Value> = rows
        .iter()
        .filter(|r| r["files"].as_u64() >= Some(50_000))
        .map(|r| {
            let peak = r["result"]["peak_rss_kib"].as_u64().unwrap_or(0);
            let pass = peak <= 200 * 1024;
            println!(
                "{:<8} {} peak RSS {:.1} MiB (target under 200 MiB): {}",
                r["engine"].as_str().unwrap_or(""),
                r["result"]["case"].as_str().unwrap_or(""),
                mib(peak),
                if pass { "PASS" } else { "FAIL" }
            );
            json!({ "engine": r["engine"], "case": r["result"]["case"], "peak_rss_kib": peak,
                    "result": if pass { "PASS" } else { "FAIL" } })
        })
        .collect();
    common::write_report(
        "sync_cost",
        &json!({ "machine": common::machine(), "rows": rows, "scaling": scaling, "rss": rss_target }),
    );
}
