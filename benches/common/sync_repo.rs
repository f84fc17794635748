//! The sync_cost bench's repositories and readings: generated files, the fake's request counts
//! by route, and a run's phases from its row and progress events.
use std::time::{Duration, Instant};

use hubsync::store::entities::{project_syncs, sync_events, sync_runs};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

use crate::support::{
    fake_github::{route, FakeGithub, FakeRepo},
    synced,
};

pub const WAIT: Duration = Duration::from_secs(900);
const ROUTES: [(&str, &str); 7] = [
    ("branch", route::BRANCH),
    ("compare", route::COMPARE),
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
pub fn generate(repo: &FakeRepo, n: usize) -> Vec<String> {
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

pub async fn latest_run(db: &DatabaseConnection, sel: i64) -> sync_runs::Model {
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
pub async fn phases(db: &DatabaseConnection, run: &sync_runs::Model) -> Value {
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

pub async fn selection_id(db: &DatabaseConnection, repo: i64) -> i64 {
    let sel: project_syncs::Model = synced::selection(db, repo, "main").await.expect("selected");
    sel.id
}

/// Polls more often than `synced::wait_synced` (5 ms): the wall time is what is measured.
pub async fn wait_synced(db: &DatabaseConnection, repo: i64, sha: &str) {
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

pub fn requests(fake: &FakeGithub) -> Value {
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
    // Of the tree requests, those that read the whole tree.
    m.insert(
        "recursive_tree".into(),
        json!(fake.recursive_tree_requests()),
    );
    Value::Object(m)
}

/// Size of what the fake serves as the tarball of `rev` (git archive, gzip).
pub fn tarball_bytes(repo: &FakeRepo, rev: &str) -> u64 {
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
