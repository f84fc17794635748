//! Webhook ingestion throughput: signed push deliveries accepted per second and the latency of
//! each, at 64 concurrent senders, against the real app on SQLite and (when BENCH_DATABASE_URL or
//! TEST_DATABASE_URL names a PostgreSQL server) on PostgreSQL. Counts the stored rows afterwards
//! to show nothing accepted was lost. `cargo bench --bench ingest`; BENCH_DELIVERIES sets the count.
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use hmac::{Hmac, Mac};
use hubsync::{
    config::{Config, Overrides},
    startup,
};
use sea_orm::{ConnectionTrait, Database, Statement};
use sha2::Sha256;

const SECRET: &str = "bench-secret";
const SENDERS: usize = 64;

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("count")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a number")
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    event: &str,
    id: &str,
    body: &[u8],
    sig: &str,
) -> u16 {
    client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sig)
        .body(body.to_vec())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn bench(engine: &str, database_url: &str, total: usize) {
    let overrides = Overrides {
        bind: Some("127.0.0.1:0".into()),
        database_url: Some(database_url.into()),
    };
    let config = Config::from_lookup(&overrides, |k| {
        (k == "GITHUB_WEBHOOK_SECRET").then(|| SECRET.to_owned())
    })
    .expect("config");
    let app = startup::run(config).await.expect("app starts");
    let url = format!("{}/webhooks/github", app.base_url());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(SENDERS)
        .build()
        .unwrap();

    // The installation first, so that the pushes are processed, not retried.
    let install = fixture("installation.created");
    assert_eq!(
        post(
            &client,
            &url,
            "installation",
            "bench-install",
            &install,
            &sign(&install)
        )
        .await,
        202
    );

    let push = Arc::new(fixture("push"));
    let sig = Arc::new(sign(&push));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (client, url, push, sig, next) = (
            client.clone(),
            url.clone(),
            push.clone(),
            sig.clone(),
            next.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let id = format!("00000000-0000-4000-8000-{i:012}");
                let t = Instant::now();
                let status = post(&client, &url, "push", &id, &push, &sig).await;
                latencies.push(t.elapsed());
                if status != 202 {
                    refused += 1;
                }
            }
            (latencies, refused)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut refused = 0;
    for s in senders {
        let (l, r) = s.await.unwrap();
        latencies.extend(l);
        refused += r;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

    let stored = count(
        &app.db,
        "SELECT COUNT(*) FROM deliveries WHERE event = 'push'",
    )
    .await;
    // How long the background processor takes to catch up with what was accepted.
    let deadline = Instant::now() + Duration::from_secs(600);
    while count(
        &app.db,
        "SELECT COUNT(*) FROM deliveries WHERE status = 'received'",
    )
    .await
        > 0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained = started.elapsed();
    let processed = count(
        &app.db,
        "SELECT COUNT(*) FROM deliveries WHERE event = 'push' AND status = 'processed'",
    )
    .await;

    println!(
        "ingest/{engine}: {total} signed push deliveries, {SENDERS} senders: {:.0} accepted/s, \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {refused} not 202; {stored} rows stored; \
         {processed} processed after {:.2} s ({:.0} processed/s)",
        total as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
        drained.as_secs_f64(),
        processed as f64 / drained.as_secs_f64(),
    );
    assert_eq!(refused, 0, "every delivery is accepted");
    assert_eq!(stored as usize, total, "every accepted delivery is stored");
    app.stop().await.expect("stops");
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let total: usize = std::env::var("BENCH_DELIVERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench("sqlite", &sqlite, total).await;

    let pg = std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .ok()
        .filter(|u| !u.is_empty());
    match pg {
        None => println!("ingest/postgres: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)"),
        Some(admin) => {
            let name = format!("hubsync_bench_{}", std::process::id());
            let conn = Database::connect(&admin).await.expect("connect");
            conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create bench database");
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            bench("postgres", url.as_str(), total).await;
            let _ = conn
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}
