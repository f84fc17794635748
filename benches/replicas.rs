//! Cross-replica event latency on PostgreSQL: two hubsync processes (a and b) on one database,
//! an event stream open on each. Two ways an event is written:
//! - by replica b's own request handler (`PUT /api/v1/projects/{id}/branches` writes a
//!   `selection_changed` event): from sending the request to the event's arrival on b's stream
//!   (same replica: b's hub is poked) and on a's (another replica: woken by NOTIFY);
//! - by a third process, this one, with hubsync's own `progress::record`: from the commit to the
//!   arrival on a's stream.
//!
//! `cargo bench --bench replicas`; BENCH_ROUNDS (200). Needs BENCH_DATABASE_URL or
//! TEST_DATABASE_URL.
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ms, pct, ChildApp, ADMIN};
use hubsync::{progress, store::DatabaseUrl};
use serde_json::{json, Value};
use support::sse::SseStream;

const WAIT: Duration = Duration::from_secs(30);

async fn stream(client: &reqwest::Client, app: &ChildApp, project: i64) -> SseStream {
    let url = app.url(&format!("/projects/{project}/events"));
    let mut s = SseStream::new(SseStream::connect(client, &url, ADMIN, None).await);
    assert_eq!(s.next(WAIT).await.expect("snapshot").event, "snapshot");
    s
}

/// Reads `s` until the event with this id; returns when it arrived.
async fn arrival(s: &mut SseStream, id: i64) -> Instant {
    loop {
        let ev = s.next(WAIT).await.expect("the event arrives");
        if ev.id() == id {
            return Instant::now();
        }
        assert!(ev.id() < id, "event {id} skipped");
    }
}

fn summary(name: &str, mut d: Vec<Duration>) -> Value {
    d.sort();
    let (p50, p99, max) = (
        pct(&d, 0.5),
        pct(&d, 0.99),
        d.last().copied().unwrap_or_default(),
    );
    println!(
        "  {name:<58} p50 {:>6.2} ms, p99 {:>6.2} ms, max {:>6.2} ms",
        ms(p50),
        ms(p99),
        ms(max)
    );
    json!({ "case": name, "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(max) })
}

#[tokio::main]
async fn main() {
    let rounds = common::num_var("BENCH_ROUNDS", 200);
    let Some(testdb) = common::fresh_db("postgres").await else {
        println!("replicas: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)");
        return;
    };
    let a = ChildApp::start(None, &testdb, &[]).await;
    let b = ChildApp::start(None, &testdb, &[]).await;
    let db = hubsync::store::connect(&DatabaseUrl::parse(&testdb.url).expect("url"))
        .await
        .expect("bench connects");
    let project = support::seed::projects(&db, 1).await[0];
    let client = reqwest::Client::new();
    let (mut on_a, mut on_b) = (
        stream(&client, &a, project).await,
        stream(&client, &b, project).await,
    );
    println!("replicas: two hubsync processes on one PostgreSQL database, {rounds} rounds each");

    let (mut local, mut remote, mut third) = (Vec::new(), Vec::new(), Vec::new());
    let put = b.url(&format!("/api/v1/projects/{project}/branches"));
    for round in 0..rounds {
        let t = Instant::now();
        let r = client
            .put(&put)
            .bearer_auth(ADMIN)
            .json(&json!({ "branches": ["main"] }))
            .send()
            .await
            .expect("PUT sent");
        assert_eq!(r.status(), 200);
        // The handler's events: queued (coalesced) and selection_changed, the newest.
        let id = loop {
            let ev = on_b.next(WAIT).await.expect("b's own event");
            if ev.event == "selection_changed" {
                local.push(t.elapsed());
                break ev.id();
            }
        };
        remote.push(arrival(&mut on_a, id).await.duration_since(t));

        let note = progress::SelectionChange::Replaced {
            branches: vec![format!("round {round}")],
        };
        let ev = progress::record(
            &db,
            project,
            &progress::ProgressEvent::SelectionChanged(note),
        )
        .await
        .expect("event written");
        let committed = Instant::now();
        third.push(arrival(&mut on_a, ev.id).await.duration_since(committed));
        arrival(&mut on_b, ev.id).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let results = vec![
        summary(
            "written by b's handler, seen on b (request to arrival)",
            local,
        ),
        summary(
            "written by b's handler, seen on a (request to arrival)",
            remote,
        ),
        summary(
            "written by a third process, seen on a (commit to arrival)",
            third,
        ),
    ];
    a.stop();
    b.stop();
    common::write_report(
        "replicas",
        &json!({ "machine": common::machine(), "rounds": rounds, "latency": results }),
    );
}
