//! The consumer API's throughput (issue 22): how fast a consumer reads the change feed by paging
//! `GET /api/v1/changes`, and how fast the outbox delivers signed webhooks to a local receiver
//! (one subscription: deliveries go one at a time, in order; several: in parallel, up to
//! `HUBSYNC_OUTBOX_CONCURRENCY`).
//!
//! `cargo bench --bench consumer`; BENCH_CHANGES (20000), BENCH_DELIVERIES (1000),
//! BENCH_SUBSCRIPTIONS (1,16); BENCH_DATABASE_URL or TEST_DATABASE_URL adds PostgreSQL.
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ChildApp, ADMIN};
use hubsync::git::{BranchName, Sha};
use hubsync::ids::{ProjectId, RunId};
use hubsync::store::{self, changes, manifests::Entry, outbox, DatabaseUrl};
use serde_json::{json, Value};
use support::receiver::{verify, Receiver};

const WAIT: Duration = Duration::from_secs(120);

/// Appends `n` added files to the feed, as runs of 1000.
async fn seed_changes(db: &sea_orm::DatabaseConnection, project: i64, n: usize) {
    for (run, chunk) in (0..n).collect::<Vec<_>>().chunks(1000).enumerate() {
        let entries: Vec<Entry> = chunk
            .iter()
            .map(|i| Entry {
                path: format!("src/dir{}/file{i}.rs", i % 50),
                sha: format!("{:040x}", i + 1),
                mode: "100644".into(),
                size: Some(1000 + *i as i64),
            })
            .collect();
        let info = changes::RunInfo {
            project_id: ProjectId(project),
            project_sync_id: 1,
            run_id: RunId(run as i64 + 1),
            repository: "bench-org/feed",
            branch: &BranchName::parse("main").unwrap(),
            commit_sha: &Sha::parse(&format!("{:040x}", run + 1)).unwrap(),
        };
        let txn = store::begin_write(db).await.unwrap();
        changes::append(&txn, &info, &[], &entries).await.unwrap();
        txn.commit().await.unwrap();
    }
}

/// Reads the whole feed with pages of `limit`; returns changes per second.
async fn read_feed(client: &reqwest::Client, app: &ChildApp, limit: usize, n: usize) -> f64 {
    let t = Instant::now();
    let (mut after, mut seen) = ("0".to_owned(), 0usize);
    loop {
        let url = app.url(&format!("/api/v1/changes?after={after}&limit={limit}"));
        let page: Value = client
            .get(url)
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let got = page["changes"].as_array().unwrap().len();
        seen += got;
        after = page["next_cursor"].as_str().unwrap().to_owned();
        if got == 0 {
            break;
        }
    }
    assert_eq!(seen, n, "every change read once");
    n as f64 / t.elapsed().as_secs_f64()
}

/// Delivers `n` events to `subs` subscriptions of one receiver; deliveries per second, from
/// the first arrival to the last.
async fn deliver(
    client: &reqwest::Client,
    app: &ChildApp,
    db: &sea_orm::DatabaseConnection,
    n: usize,
    subs: usize,
) -> f64 {
    let mut receiver = Receiver::start().await;
    let mut secrets = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..subs {
        let r: Value = client
            .post(app.url("/api/v1/subscriptions"))
            .bearer_auth(ADMIN)
            .json(&json!({ "url": receiver.url, "events": ["sync.succeeded"] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        secrets.push(r["secret"].as_str().unwrap().to_owned());
        ids.push(r["id"].as_i64().unwrap());
    }
    let events = n / subs;
    let txn = store::begin_write(db).await.unwrap();
    for run in 0..events {
        let o = outbox::Outcome {
            event: outbox::EventType::SyncSucceeded,
            project_id: 1,
            repository: "bench-org/feed",
            branch: "main",
            run_id: run as i64 + 1,
            commit_sha: Some("0123456789abcdef0123456789abcdef01234567"),
            previous_sha: None,
            counts: changes::Counts {
                added: 3,
                ..Default::default()
            },
            changes_cursor: Some(run as i64),
            error: None,
        };
        outbox::enqueue(&txn, &o).await.unwrap();
    }
    txn.commit().await.unwrap();
    let total = events * subs;
    let first = receiver.next(WAIT).await;
    assert!(secrets.iter().any(|s| verify(s, &first).is_ok()), "signed");
    let mut last = first.at;
    for _ in 1..total {
        last = receiver.next(WAIT).await.at;
    }
    for id in ids {
        client
            .delete(app.url(&format!("/api/v1/subscriptions/{id}")))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
    }
    receiver.stop().await;
    (total - 1) as f64 / (last - first.at).as_secs_f64()
}

#[tokio::main]
async fn main() {
    let n = common::num_var("BENCH_CHANGES", 20_000);
    let deliveries = common::num_var("BENCH_DELIVERIES", 1_000);
    let sub_counts = common::list_var("BENCH_SUBSCRIPTIONS", &[1, 16]);
    let client = reqwest::Client::new();
    let mut results = Vec::new();
    println!("consumer: feed of {n} changes; {deliveries} webhook deliveries per case");
    for engine in common::engines() {
        let Some(testdb) = common::fresh_db(engine).await else {
            continue;
        };
        let app = ChildApp::start(
            None,
            &testdb,
            &[
                ("HUBSYNC_OUTBOX_ALLOW_PRIVATE", "1"),
                ("HUBSYNC_OUTBOX_CONCURRENCY", "16"),
            ],
        )
        .await;
        let db = store::connect(&DatabaseUrl::parse(&testdb.url).unwrap())
            .await
            .unwrap();
        seed_changes(&db, 1, n).await;
        for limit in [100, 1000] {
            let rate = read_feed(&client, &app, limit, n).await;
            println!("  {engine:<8} feed, pages of {limit:>4}: {rate:>9.0} changes/s");
            results.push(json!({ "engine": engine, "case": format!("feed, limit {limit}"), "per_second": rate.round() }));
        }
        for &subs in &sub_counts {
            let rate = deliver(&client, &app, &db, deliveries, subs).await;
            println!("  {engine:<8} outbox, {subs:>2} subscription(s): {rate:>9.0} deliveries/s");
            results.push(json!({ "engine": engine, "case": format!("outbox, {subs} subscriptions"), "per_second": rate.round() }));
        }
        db.close().await.ok();
        app.stop();
    }
    common::write_report(
        "consumer",
        &json!({ "machine": common::machine(), "changes": n, "deliveries": deliveries, "results": results }),
    );
}
