//! Sync cost: the hubsync binary (a child process, so its peak RSS is its own) syncing generated
//! repositories from the fake GitHub (in this process): an initial sync of N files, then pushes
//! changing k files. Prints wall time, GitHub requests by route, bytes fetched, peak RSS and
//! per-phase timings, and checks the targets of issues 8 and 23: a 1-file push costs the same
//! requests (1 compare + 1 blob, plus the changed file's directory listings) and within 1.2x the
//! time into the largest repository as into the smallest, peak RSS of pushes is flat in
//! repository size, and the initial sync of 50,000 files stays under 200 MiB.
//!
//! `cargo bench --bench sync_cost`; BENCH_SIZES=10,50000, BENCH_PUSHES=1,10,100,1000 and
//! BENCH_REPEAT=7 (1-file pushes per size; the median counts) change the matrix;
//! BENCH_SYNC_COMPARE=off runs the tree walk for comparison; PostgreSQL too when
//! BENCH_DATABASE_URL or TEST_DATABASE_URL is set.
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "common/mod.rs"]
mod common;
#[path = "common/sync_repo.rs"]
mod sync_repo;

use std::time::{Duration, Instant};

use common::{mib, ms, ChildApp};
use sea_orm::{Database, DatabaseConnection};
use serde_json::{json, Value};
use support::{
    fake_github::{FakeGithub, FakeRepo},
    synced,
    webhooks::SECRET,
};
use sync_repo::{
    generate, latest_run, phases, requests, selection_id, tarball_bytes, wait_synced, WAIT,
};

struct Row {
    report: Value,
    line: String,
}

struct Phase<'a> {
    label: String,
    k: usize,
    fake: &'a FakeGithub,
    app: &'a ChildApp,
    db: &'a DatabaseConnection,
    repo: &'a FakeRepo,
    sel: i64,
    wall: Duration,
    /// Resident memory when the phase started (its peak's baseline).
    rss_before: u64,
}

async fn measure(p: Phase<'_>) -> Row {
    let run = latest_run(p.db, p.sel).await;
    let req = requests(p.fake);
    let n = |k: &str| req[k].as_u64().unwrap_or(0);
    let (tree, recursive, blob, tarball, compare) = (
        n("tree"),
        n("recursive_tree"),
        n("blob"),
        n("tarball"),
        n("compare"),
    );
    let tar_bytes = if tarball > 0 {
        tarball_bytes(p.repo, "main")
    } else {
        0
    };
    // Issue 8: a push of k files costs at most 1 tree + k blob requests, or 1 tarball. Issue 23:
    // planned from compare, no whole-tree read at all.
    let k = p.k as u64;
    let pass =
        k == 0 || (recursive <= 1 && ((tarball == 0 && blob <= k) || (tarball == 1 && blob == 0)));
    let method = if k == 0 {
        "initial"
    } else if compare == 1 && recursive == 0 {
        "compare"
    } else {
        "tree walk"
    };
    let phases = phases(p.db, &run).await;
    let peak = p.app.peak_rss_kib();
    let growth = peak.saturating_sub(p.rss_before);
    let label = &p.label;
    let line = format!(
        "{label:<16} {:>7.0} ms  {method:<9} branch {} compare {} tree {:>2} (recursive {}) blob {:>5} tarball {} other {:>2}  \
         fetched {:>6} files {:>9.1} KiB (tarball {:>8.1} KiB)  peak RSS {:>6.1} MiB (+{:>5.1} in the phase)  \
         plan {} ms  {}",
        ms(p.wall), req["branch"], compare, tree, recursive, blob, tarball, req["other"],
        run.files_fetched, run.bytes_fetched as f64 / 1024.0, tar_bytes as f64 / 1024.0,
        mib(peak), mib(growth), phases["plan_ms"],
        if k == 0 { "" } else if pass { "PASS" } else { "FAIL" },
    );
    Row {
        report: json!({
            "case": label, "changed_files": k, "wall_ms": ms(p.wall), "requests": req, "method": method,
            "files_total": run.files_total, "files_changed": run.files_changed,
            "files_fetched": run.files_fetched, "bytes_fetched": run.bytes_fetched,
            "tarball_bytes": tar_bytes, "api_requests": run.api_requests,
            "peak_rss_kib": peak, "rss_growth_kib": growth, "phases": phases, "status": run.status,
            "request_target": if k == 0 { Value::Null } else { json!(if pass { "PASS" } else { "FAIL" }) },
        }),
        line,
    }
}

async fn bench(engine: &str, n: usize, pushes: &[usize], repeat: usize, rows: &mut Vec<Value>) {
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

    let compare = std::env::var("BENCH_SYNC_COMPARE").unwrap_or_else(|_| "on".into());
    // No debounce: a push that follows the last run's end within it would wait it out, so the
    // figures would measure how soon this loop pushes, not what a sync costs (`live` measures
    // the debounce).
    let app = ChildApp::start(
        Some(&fake),
        &testdb,
        &[
            ("HUBSYNC_SYNC_COMPARE", &compare),
            ("HUBSYNC_SYNC_DEBOUNCE_MS", "0"),
        ],
    )
    .await;
    let db = Database::connect(&testdb.url)
        .await
        .expect("bench connects");
    let client = reqwest::Client::new();
    let hook = app.url("/webhooks/github");
    fake.reset_counts();
    app.reset_peak();
    let rss_before = app.rss_kib();
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
    let (fake_ref, app_ref, db_ref, repo_ref) = (&fake, &app, &db, &repo);
    let phase = |label: String, k: usize, wall: Duration, rss_before: u64| Phase {
        label,
        k,
        fake: fake_ref,
        app: app_ref,
        db: db_ref,
        repo: repo_ref,
        sel,
        wall,
        rss_before,
    };
    let row = measure(phase(format!("initial {n}"), 0, t.elapsed(), rss_before)).await;
    println!("{engine:<8} {n:>6} files  {}", row.line);
    rows.push(json!({ "engine": engine, "files": n, "result": row.report }));

    let mut round = 0;
    for &k in pushes {
        let k = k.min(text.len());
        for _ in 0..if k == 1 { repeat } else { 1 } {
            round += 1;
            let step = (text.len() / k).max(1);
            for j in 0..k {
                let path = &text[(j * step + round) % text.len()];
                let mut old = std::fs::read(repo.work.join(path)).unwrap();
                old.extend_from_slice(format!("// change {round} {j}\n").as_bytes());
                repo.write(path, old);
            }
            repo.commit(&format!("change {k} files"));
            let push = repo.push("main");
            fake.reset_counts();
            app.reset_peak();
            let rss_before = app.rss_kib();
            let t = Instant::now();
            let r = fake.push_event(&push).send(&client, &hook, SECRET).await;
            assert_eq!(r.status(), 202);
            wait_synced(&db, repo.id, &push.after).await;
            let row = measure(phase(format!("push {k}"), k, t.elapsed(), rss_before)).await;
            println!("{engine:<8} {n:>6} files  {}", row.line);
            rows.push(json!({ "engine": engine, "files": n, "result": row.report }));
        }
    }
    let _ = db.close().await;
    app.stop();
    fake.stop().await;
}

/// The median of a field over the rows of one engine, size and k.
fn median(rows: &[Value], engine: &str, n: u64, k: u64, field: &str) -> Option<f64> {
    let mut v: Vec<f64> = rows
        .iter()
        .filter(|r| r["engine"] == engine && r["files"] == n && r["result"]["changed_files"] == k)
        .filter_map(|r| r["result"][field].as_f64())
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied()
}

fn requests_of(rows: &[Value], engine: &str, n: u64, k: u64) -> Option<Value> {
    rows.iter()
        .rfind(|r| r["engine"] == engine && r["files"] == n && r["result"]["changed_files"] == k)
        .map(|r| r["result"]["requests"].clone())
}

/// Time and requests grow with k, not with repository size: the smallest and the largest size
/// side by side. A 1-file push: within 1.2x the time, the same requests; others within 3x + 100 ms.
fn scaling_checks(rows: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for engine in ["sqlite", "postgres"] {
        let mut sizes: Vec<u64> = rows
            .iter()
            .filter(|r| r["engine"] == engine)
            .filter_map(|r| r["files"].as_u64())
            .collect();
        sizes.sort();
        sizes.dedup();
        let (Some(&small), Some(&large)) = (sizes.first(), sizes.last()) else {
            continue;
        };
        if small == large {
            continue;
        }
        for k in [1u64, 10, 100, 1000] {
            let (Some(a), Some(b)) = (
                median(rows, engine, small, k, "wall_ms"),
                median(rows, engine, large, k, "wall_ms"),
            ) else {
                continue;
            };
            let (ra, rb) = (
                requests_of(rows, engine, small, k),
                requests_of(rows, engine, large, k),
            );
            let same_requests = ra == rb;
            let (ga, gb) = (
                median(rows, engine, small, k, "rss_growth_kib").unwrap_or(0.0),
                median(rows, engine, large, k, "rss_growth_kib").unwrap_or(0.0),
            );
            let (time_ok, target) = if k == 1 {
                (b <= 1.2 * a, "1.2x")
            } else {
                (b <= 3.0 * a + 100.0, "3x + 100 ms")
            };
            let rss_flat = gb <= ga + 8.0 * 1024.0;
            let pass = time_ok && (k != 1 || same_requests) && rss_flat;
            println!(
                "{engine:<8} push {k:>4}: {a:>6.0} ms at {small} files, {b:>6.0} ms at {large} files ({:.2}x, target {target}); \
                 requests {} / {}; RSS growth {:.1} / {:.1} MiB: {}",
                b / a,
                ra.as_ref().map(Value::to_string).unwrap_or_default(),
                rb.as_ref().map(Value::to_string).unwrap_or_default(),
                ga / 1024.0,
                gb / 1024.0,
                if pass { "PASS" } else { "FAIL" }
            );
            out.push(json!({ "engine": engine, "changed_files": k, "small": small, "large": large,
                             "small_ms": a, "large_ms": b, "ratio": b / a, "same_requests": same_requests,
                             "small_rss_growth_kib": ga, "large_rss_growth_kib": gb,
                             "result": if pass { "PASS" } else { "FAIL" } }));
        }
    }
    out
}

#[tokio::main]
async fn main() {
    let sizes = common::list_var("BENCH_SIZES", &[10, 1000, 10_000, 50_000]);
    let pushes = common::list_var("BENCH_PUSHES", &[1, 10, 100, 1000]);
    let repeat = common::num_var("BENCH_REPEAT", 7).max(1);
    println!(
        "sync_cost: hubsync as a child process (peak RSS is its VmHWM, reset per phase); the fake \
         GitHub runs in the bench process. Sizes {sizes:?}, pushes {pushes:?}, {repeat} 1-file pushes per size."
    );
    let mut rows = Vec::new();
    for engine in common::engines() {
        for &n in &sizes {
            bench(engine, n, &pushes, repeat, &mut rows).await;
        }
    }
    println!("-- time and requests grow with k, not with repository size (medians):");
    let scaling = scaling_checks(&rows);
    let rss_target: Vec<Value> = rows
        .iter()
        .filter(|r| r["files"].as_u64() >= Some(50_000) && r["result"]["changed_files"] == 0)
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
