//! The progress hub under a burst: N subscribers follow `/api/v1/events` on hubsync (a child
//! process) while concurrent writers in this process (as other replicas would) commit 5,000
//! events in transactions of 10. Prints how fast the events were written, how fast the hub
//! delivered them to every subscriber, the delay from each event's row to its arrival, and the
//! server's CPU time for the burst.
//!
//! `cargo bench --bench live_burst`; BENCH_SUBSCRIBERS (1,1000), BENCH_EVENTS (5000).
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "common/mod.rs"]
mod common;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use common::{ms, pct, ChildApp, ADMIN};
use futures_util::{future::join_all, StreamExt};
use hubsync::{progress, store::DatabaseUrl};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

const WAIT: Duration = Duration::from_secs(120);
const WRITERS: usize = 8;
const PER_TRANSACTION: usize = 10;
/// Each subscriber stamps the arrival of every SAMPLE-th event.
const SAMPLE: usize = 10;

/// What one subscriber saw: events counted, and (id, arrival ms since the epoch) samples.
struct Seen {
    count: usize,
    last: Instant,
    samples: Vec<(i64, f64)>,
    in_order: bool,
}

/// Follows the stream cheaply (the clients share the machine with the server): finds `id:`
/// lines, no JSON. Returns once `want` events after the snapshot have arrived.
async fn follow(resp: reqwest::Response, want: usize) -> Option<Seen> {
    let mut body = resp.bytes_stream();
    let mut rest: Vec<u8> = Vec::new();
    let mut snapshot: Option<i64> = None;
    let mut seen = Seen {
        count: 0,
        last: Instant::now(),
        samples: Vec::with_capacity(want / SAMPLE + 1),
        in_order: true,
    };
    let mut prev = i64::MIN;
    while seen.count < want {
        let chunk = tokio::time::timeout(WAIT, body.next()).await.ok()??.ok()?;
        rest.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(pos) = rest[start..].iter().position(|b| *b == b'\n') {
            let line = &rest[start..start + pos];
            start += pos + 1;
            let Some(id) = line.strip_prefix(b"id: ") else {
                continue;
            };
            let id: i64 = std::str::from_utf8(id).ok()?.trim().parse().ok()?;
            if snapshot.is_none() {
                snapshot = Some(id);
                continue;
            }
            seen.in_order &= id > prev;
            prev = id;
            if seen.count.is_multiple_of(SAMPLE) {
                seen.samples.push((id, now_ms()));
            }
            seen.count += 1;
            seen.last = Instant::now();
        }
        rest.drain(..start);
    }
    Some(seen)
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

/// Writes `events` events from `WRITERS` concurrent tasks; returns when all are committed.
async fn burst(db: &DatabaseConnection, projects: &[i64], events: usize) {
    let tasks = (0..WRITERS).map(|w| {
        let db = db.clone();
        let projects = projects.to_vec();
        tokio::spawn(async move {
            let mine = events / WRITERS + usize::from(w < events % WRITERS);
            let mut written = 0;
            while written < mine {
                let n = PER_TRANSACTION.min(mine - written);
                let txn = db.begin().await.expect("begin");
                for k in 0..n {
                    let p = projects[(w * 7 + written + k) % projects.len()];
                    let note = progress::SelectionChange::Replaced {
                        branches: vec![format!("writer {w} done {} of {mine}", written + k)],
                    };
                    progress::record(&txn, p, &progress::ProgressEvent::SelectionChanged(note))
                        .await
                        .expect("event written");
                }
                txn.commit().await.expect("commit");
                written += n;
            }
        })
    });
    for t in join_all(tasks).await {
        t.expect("writer");
    }
}

async fn case(engine: &str, subscribers: usize, events: usize) -> Option<Value> {
    let testdb = common::fresh_db(engine).await?;
    let app = ChildApp::start(None, &testdb, &[]).await;
    let db = hubsync::store::connect(&DatabaseUrl::parse(&testdb.url).expect("url"))
        .await
        .expect("bench connects");
    let projects = support::seed::projects(&db, 50).await;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let gate = Arc::new(Semaphore::new(100));
    let url = app.url("/api/v1/events");
    let opened: Vec<Option<reqwest::Response>> = join_all((0..subscribers).map(|_| {
        let (gate, client, url) = (gate.clone(), client.clone(), url.clone());
        async move {
            let _permit = gate.acquire().await.ok()?;
            let r = client
                .get(&url)
                .bearer_auth(ADMIN)
                .header("accept", "text/event-stream")
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(r)
        }
    }))
    .await;
    let opened: Vec<reqwest::Response> = opened.into_iter().flatten().collect();
    let connected = opened.len();
    let readers: Vec<_> = opened
        .into_iter()
        .map(|r| tokio::spawn(follow(r, events)))
        .collect();
    // Every stream has had its snapshot written before the burst starts.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let own = || common::cpu_of(&std::process::id().to_string());
    let (cpu0, own0) = (app.cpu(), own());
    let t = Instant::now();
    burst(&db, &projects, events).await;
    let written = t.elapsed();
    let seen: Vec<Seen> = join_all(readers)
        .await
        .into_iter()
        .filter_map(|r| r.ok().flatten())
        .collect();
    let delivered = seen
        .iter()
        .map(|s| s.last.duration_since(t))
        .max()
        .unwrap_or_default();
    let cpu = app.cpu().saturating_sub(cpu0);
    let clients_cpu = own().saturating_sub(own0);

    let rows = progress::replay(&db, None, 0, i64::MAX, 1_000_000)
        .await
        .unwrap_or_default();
    let created: HashMap<i64, f64> = rows
        .iter()
        .map(|r| (r.id, r.created_at.timestamp_micros() as f64 / 1e3))
        .collect();
    let mut delays: Vec<Duration> = seen
        .iter()
        .flat_map(|s| s.samples.iter())
        .filter_map(|(id, at)| created.get(id).map(|c| (at - c).max(0.0)))
        .map(|d| Duration::from_secs_f64(d / 1e3))
        .collect();
    delays.sort();
    let complete = seen.iter().filter(|s| s.count == events).count();
    let ordered = seen.iter().filter(|s| s.in_order).count();
    let per_sub = events as f64 / delivered.as_secs_f64();
    println!(
        "{engine:<8} {subscribers:>5} subscribers ({connected} connected), {events} events: written in {:.2} s \
         ({:.0}/s); all delivered to {complete} subscribers ({ordered} in order) {:.2} s after the burst began: \
         {:.0} events/s per subscriber, {:.0} deliveries/s in all; row-to-arrival p50 {:.1} ms, p99 {:.1} ms, \
         max {:.1} ms; server CPU {:.2} s ({:.2} us per delivery), this process (writers and readers) {:.2} s",
        written.as_secs_f64(),
        events as f64 / written.as_secs_f64(),
        delivered.as_secs_f64(),
        per_sub,
        per_sub * complete as f64,
        ms(pct(&delays, 0.5)),
        ms(pct(&delays, 0.99)),
        ms(delays.last().copied().unwrap_or_default()),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / (events * complete.max(1)) as f64,
        clients_cpu.as_secs_f64(),
    );
    app.stop();
    Some(json!({
        "engine": engine, "subscribers": subscribers, "connected": connected, "events": events,
        "written_s": written.as_secs_f64(), "delivered_s": delivered.as_secs_f64(),
        "complete": complete, "in_order": ordered, "events_per_s_per_subscriber": per_sub,
        "deliveries_per_s": per_sub * complete as f64, "delay_p50_ms": ms(pct(&delays, 0.5)),
        "delay_p99_ms": ms(pct(&delays, 0.99)), "server_cpu_s": cpu.as_secs_f64(),
        "bench_process_cpu_s": clients_cpu.as_secs_f64(),
    }))
}

#[tokio::main]
async fn main() {
    let subs = common::list_var("BENCH_SUBSCRIBERS", &[1, 1000]);
    let events = common::num_var("BENCH_EVENTS", 5000);
    let nofile = common::raise_nofile();
    println!("live_burst: hubsync as a child process; open-file limit {nofile}");
    let mut results = Vec::new();
    for engine in common::engines() {
        for &n in &subs {
            results.extend(case(engine, n, events).await);
        }
    }
    common::write_report(
        "live_burst",
        &json!({ "machine": common::machine(), "cases": results }),
    );
}
