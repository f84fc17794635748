//! Live progress: push-to-synced latency (webhook POST to the `succeeded` SSE event of a 1-file
//! push) and SSE fan-out (N subscribers to one project while runs go on: delivery latency from
//! the event's row to each client, and the server's memory per subscriber). hubsync runs as a
//! child process, so its RSS is its own; the fake GitHub and the clients run in this process.
//!
//! `cargo bench --bench live`; BENCH_PUSHES_LATENCY (200), BENCH_SUBSCRIBERS (1000,5000).
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "common/mod.rs"]
mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use common::{mib, ms, pct, ChildApp, ADMIN};
use futures_util::future::join_all;
use sea_orm::{Database, DatabaseConnection};
use serde_json::{json, Value};
use support::{
    fake_github::{FakeGithub, FakeRepo},
    sse::SseStream,
    synced,
    webhooks::SECRET,
};
use tokio::sync::Semaphore;

const WAIT: Duration = Duration::from_secs(120);

struct Setup {
    fake: FakeGithub,
    repo: FakeRepo,
    app: ChildApp,
    db: DatabaseConnection,
    project: i64,
    client: reqwest::Client,
    _testdb: common::BenchDb,
}

async fn setup(engine: &str, files: usize) -> Option<Setup> {
    let testdb = common::fresh_db(engine).await?;
    let fake = FakeGithub::start().await;
    let inst = fake.add_installation("bench-org");
    let repo = fake.create_repo(inst, "live");
    for i in 0..files {
        repo.write(
            &format!("src/m{:02}/f{i}.txt", i % 20),
            format!("file {i}\n").repeat(20),
        );
    }
    repo.commit("initial");
    repo.push("main");
    let app = ChildApp::start(Some(&fake), &testdb, &[]).await;
    let db = Database::connect(&testdb.url)
        .await
        .expect("bench connects");
    let client = reqwest::Client::new();
    let r = fake
        .installation_event(inst, "created")
        .send(&client, &app.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    let head = repo.head("main").unwrap();
    wait_synced(&db, repo.id, &head).await;
    let project = hubsync::store::selections::project_of_repository(&db, repo.id)
        .await
        .unwrap()
        .expect("project")
        .id;
    Some(Setup {
        fake,
        repo,
        app,
        db,
        project,
        client,
        _testdb: testdb,
    })
}

async fn subscribe(s: &Setup, client: &reqwest::Client) -> Option<SseStream> {
    let url = s.app.url(&format!("/projects/{}/events", s.project));
    let resp = client
        .get(&url)
        .bearer_auth(ADMIN)
        .header("accept", "text/event-stream")
        .send()
        .await
        .ok()?;
    if resp.status() != 200 {
        return None;
    }
    let mut stream = SseStream::new(resp);
    let snap = stream.next(WAIT).await?;
    (snap.event == "snapshot").then_some(stream)
}

/// Commits a change to `k` files (round-specific content) and pushes it; returns the push.
fn change(repo: &FakeRepo, round: usize, k: usize) -> support::fake_github::Push {
    for j in 0..k {
        repo.write(
            &format!("src/m{:02}/f{j}.txt", j % 20),
            format!("round {round} file {j}\n"),
        );
    }
    repo.commit(&format!("round {round}"));
    repo.push("main")
}

async fn push_latency(engine: &str, pushes: usize) -> Option<Value> {
    let s = setup(engine, 200).await?;
    let mut stream = subscribe(&s, &s.client).await.expect("subscribed");
    let hook = s.app.url("/webhooks/github");
    let mut lat = Vec::with_capacity(pushes);
    // (delivery id, target sha, POST sent, `succeeded` received), in ms since the epoch.
    let mut marks = Vec::with_capacity(pushes);
    for round in 0..pushes {
        // Each push finds the branch idle (its last run ended over HUBSYNC_SYNC_DEBOUNCE_MS ago):
        // the leading edge. Bursts are measured by `rapid_pushes`.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let push = change(&s.repo, round, 1);
        let delivery = s.fake.push_event(&push);
        let sent = now_ms();
        let t = Instant::now();
        let r = delivery.send(&s.client, &hook, SECRET).await;
        assert_eq!(r.status(), 202);
        loop {
            let ev = stream.expect("succeeded", WAIT).await;
            if ev.json()["sha"] == push.after.as_str() {
                break;
            }
        }
        lat.push(t.elapsed());
        marks.push((
            delivery.delivery_id.clone(),
            push.after.clone(),
            sent,
            now_ms(),
        ));
    }
    lat.sort();
    let (p50, p99, max) = (pct(&lat, 0.5), pct(&lat, 0.99), *lat.last().unwrap());
    let phases = phases(&s.db, &marks).await;
    let burst = rapid_pushes(&s, &mut stream, 20).await;
    println!(
        "{engine:<8} push-to-synced, 1-file push to an idle branch, {pushes} pushes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(p50),
        ms(p99),
        ms(max)
    );
    println!("{engine:<8}   median per phase (ms): {phases}");
    println!(
        "{engine:<8}   20 rapid pushes: {} runs, the last at the last head",
        burst
    );
    drop(stream);
    s.app.stop();
    s.fake.stop().await;
    Some(
        json!({ "engine": engine, "pushes": pushes, "p50_ms": ms(p50), "p99_ms": ms(p99),
                 "max_ms": ms(max), "median_phase_ms": phases, "runs_for_20_rapid_pushes": burst }),
    )
}

/// Sends `n` pushes without waiting, then waits until the last head is synced; returns how many
/// runs they took (leading edge for the first, the rest folded into follow-ups).
async fn rapid_pushes(s: &Setup, stream: &mut SseStream, n: usize) -> u64 {
    use hubsync::store::entities::sync_runs;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
    let last_before = sync_runs::Entity::find()
        .order_by_desc(sync_runs::Column::Id)
        .one(&s.db)
        .await
        .unwrap()
        .map_or(0, |r| r.id);
    let hook = s.app.url("/webhooks/github");
    let mut last = None;
    for round in 0..n {
        let push = change(&s.repo, 100_000 + round, 1);
        let r = s
            .fake
            .push_event(&push)
            .send(&s.client, &hook, SECRET)
            .await;
        assert_eq!(r.status(), 202);
        last = Some(push.after);
    }
    let last = last.expect("at least one push");
    loop {
        let ev = stream.expect("succeeded", WAIT).await;
        if ev.json()["sha"] == last.as_str() {
            break;
        }
    }
    sync_runs::Entity::find()
        .filter(sync_runs::Column::Id.gt(last_before))
        .count(&s.db)
        .await
        .unwrap()
}

/// Where a push's latency goes, median per phase: POST -> delivery processed (run queued) ->
/// run started -> run finished (`succeeded` row committed) -> event received by the client.
async fn phases(db: &DatabaseConnection, marks: &[(String, String, f64, f64)]) -> Value {
    use hubsync::store::entities::{deliveries, sync_runs};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let ms_of = |t: chrono::DateTime<chrono::Utc>| t.timestamp_micros() as f64 / 1e3;
    let mut cols: [Vec<f64>; 4] = Default::default();
    for (id, sha, sent, received) in marks {
        let d = deliveries::Entity::find()
            .filter(deliveries::Column::DeliveryId.eq(id.as_str()))
            .one(db)
            .await
            .ok()
            .flatten();
        let run = sync_runs::Entity::find()
            .filter(sync_runs::Column::TargetSha.eq(sha.as_str()))
            .filter(sync_runs::Column::Status.eq("succeeded"))
            .one(db)
            .await
            .ok()
            .flatten();
        let (Some(d), Some(run)) = (d, run) else {
            continue;
        };
        let (Some(processed), Some(started), Some(finished)) =
            (d.processed_at, run.started_at, run.finished_at)
        else {
            continue;
        };
        cols[0].push(ms_of(processed) - sent);
        cols[1].push(ms_of(started) - ms_of(processed));
        cols[2].push(ms_of(finished) - ms_of(started));
        cols[3].push(received - ms_of(finished));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).map(|m| (m * 10.0).round() / 10.0)
    };
    json!({
        "post_to_processed": median(&mut cols[0]),
        "processed_to_run_started": median(&mut cols[1]),
        "run": median(&mut cols[2]),
        "run_finished_to_sse_received": median(&mut cols[3]),
    })
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

async fn fan_out(engine: &str, subscribers: usize, runs: usize) -> Option<Value> {
    let s = setup(engine, 2000).await?;
    // Slow GitHub answers a little so that each run lasts long enough to report progress.
    s.fake.set_latency(Duration::from_millis(30));
    let rss_before = s.app.rss_kib();
    // Connections opened 100 at a time: the listen backlog is finite.
    let gate = Arc::new(Semaphore::new(100));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let t = Instant::now();
    let streams: Vec<Option<SseStream>> = join_all((0..subscribers).map(|_| {
        let gate = gate.clone();
        let client = client.clone();
        let s = &s;
        async move {
            let _permit = gate.acquire().await.ok()?;
            subscribe(s, &client).await
        }
    }))
    .await;
    let connect = t.elapsed();
    let streams: Vec<SseStream> = streams.into_iter().flatten().collect();
    let connected = streams.len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = s.app.rss_kib();
    let per_sub = (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / connected.max(1) as f64;

    // Each subscriber reads until the last run's `succeeded`, stamping arrival against the row's
    // created_at (same machine, same clock).
    let last_sha = Arc::new(tokio::sync::OnceCell::<String>::new());
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let last_sha = last_sha.clone();
            tokio::spawn(async move {
                let mut delays = Vec::new();
                let mut done = false;
                while let Some(ev) = stream.next(WAIT).await {
                    delays.push((ev.id(), now_ms()));
                    if ev.event == "succeeded"
                        && last_sha
                            .get()
                            .is_some_and(|s| ev.json()["sha"] == s.as_str())
                    {
                        done = true;
                        break;
                    }
                }
                (delays, done)
            })
        })
        .collect();
    let hook = s.app.url("/webhooks/github");
    let t = Instant::now();
    for round in 0..runs {
        let push = change(&s.repo, 1000 + round, 40);
        if round + 1 == runs {
            let _ = last_sha.set(push.after.clone());
        }
        let r = s
            .fake
            .push_event(&push)
            .send(&s.client, &hook, SECRET)
            .await;
        assert_eq!(r.status(), 202);
        wait_synced(&s.db, s.repo.id, &push.after).await;
    }
    let runs_time = t.elapsed();
    let results = join_all(readers).await;
    // Event id -> created_at, from the table.
    let rows = hubsync::progress::replay(
        &s.db,
        Some(hubsync::ids::ProjectId(s.project)),
        0,
        i64::MAX,
        100_000,
    )
    .await
    .unwrap_or_default();
    let created: std::collections::HashMap<i64, f64> = rows
        .iter()
        .map(|r| (r.id, r.created_at.timestamp_micros() as f64 / 1e3))
        .collect();
    let mut delays: Vec<Duration> = Vec::new();
    let mut complete = 0;
    let mut events = 0;
    for (got, done) in results.into_iter().flatten() {
        complete += done as usize;
        events += got.len();
        for (id, at) in got {
            if let Some(c) = created.get(&id) {
                delays.push(Duration::from_secs_f64(((at - c).max(0.0)) / 1e3));
            }
        }
    }
    delays.sort();
    let (p50, p99, max) = (
        pct(&delays, 0.5),
        pct(&delays, 0.99),
        delays.last().copied().unwrap_or_default(),
    );
    println!(
        "{engine:<8} fan-out {subscribers:>5} subscribers: {connected} connected in {:.1} s, {complete} saw the \
         last run end; {events} events delivered over {runs} runs ({:.1} s): delivery p50 {:.1} ms, p99 {:.1} ms, \
         max {:.1} ms; server RSS {:.1} -> {:.1} MiB, {:.1} KiB per subscriber",
        connect.as_secs_f64(),
        runs_time.as_secs_f64(),
        ms(p50),
        ms(p99),
        ms(max),
        mib(rss_before),
        mib(rss_after),
        per_sub / 1024.0
    );
    s.app.stop();
    s.fake.stop().await;
    Some(json!({
        "engine": engine, "subscribers": subscribers, "connected": connected,
        "saw_last_run_end": complete, "events_delivered": events, "runs": runs,
        "connect_s": connect.as_secs_f64(), "delivery_p50_ms": ms(p50), "delivery_p99_ms": ms(p99),
        "delivery_max_ms": ms(max), "rss_before_kib": rss_before, "rss_after_kib": rss_after,
        "bytes_per_subscriber": per_sub.round(),
    }))
}

#[tokio::main]
async fn main() {
    let pushes = common::num_var("BENCH_PUSHES_LATENCY", 200);
    let subs = common::list_var("BENCH_SUBSCRIBERS", &[1000, 5000]);
    let nofile = common::raise_nofile();
    println!(
        "live: hubsync as a child process; open-file limit {nofile} (each subscriber holds one \
         socket here and one in hubsync)"
    );
    let mut latency = Vec::new();
    let mut fanout = Vec::new();
    for engine in common::engines() {
        latency.extend(push_latency(engine, pushes).await);
        for &n in &subs {
            fanout.extend(fan_out(engine, n, 5).await);
        }
    }
    common::write_report(
        "live",
        &json!({ "machine": common::machine(), "push_to_synced": latency, "fan_out": fanout }),
    );
}

/// The app is another process: its database is polled (5 ms, as benches/common/sync_repo.rs).
async fn wait_synced(db: &DatabaseConnection, repo: i64, sha: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(sel) = synced::selection(db, repo, "main").await {
            if sel.last_synced_sha.as_deref() == Some(sha) {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "main never reached {sha}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
