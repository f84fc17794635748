//! The ingest bench's sustained mode: `senders` keep-alive connections post signed pushes, each
//! with a new X-GitHub-Delivery, for `secs` seconds with processing on, as `wrk -c64` would.
//! Prints, per second, the deliveries accepted, the p99 of the requests answered in that second,
//! the processing backlog and (SQLite) the size of the write-ahead log; then waits until every
//! accepted delivery is processed and checks that each is stored and processed.
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use sea_orm::Database;

use super::{common, count, fixture, post, sign, BenchDb, ChildApp, Conn};

const PREFIX: &str = "00000000-0000-4000-a000-";
const WARM_UP: &str = "00000000-0000-4000-b000-";

/// One answered request: when it was answered (ms since the start), how long it took, and
/// whether it was accepted.
struct Answer {
    at_ms: u32,
    latency: Duration,
    accepted: bool,
}

/// The `-wal` file beside a SQLite database, if the bench runs on SQLite.
fn wal_path(testdb: &BenchDb) -> Option<std::path::PathBuf> {
    let path = testdb.url.strip_prefix("sqlite://")?;
    let path = path.split('?').next()?;
    Some(format!("{path}-wal").into())
}

/// `drain_secs`: how long to wait, after sending, for every accepted delivery to be processed.
pub async fn run(
    engine: &str,
    testdb: &BenchDb,
    senders: usize,
    secs: u64,
    drain_secs: u64,
) -> serde_json::Value {
    let app = ChildApp::start(None, testdb, &[]).await;
    let db = Database::connect(&testdb.url)
        .await
        .expect("bench connects");
    let install = fixture("installation.created");
    let mut conn = Conn::new(&app.base);
    let status = post(
        &mut conn,
        "installation",
        "sustained-install",
        &install,
        &sign(&install),
    )
    .await;
    assert_eq!(status, 202);

    // Connections opened and warmed up before the clock starts, as in the burst mode.
    let mut conns = Vec::new();
    for _ in 0..senders {
        let mut conn = Conn::new(&app.base);
        conn.connect().await.expect("the bench connects to hubsync");
        conns.push(conn);
    }
    let (conns, _) = super::burst(conns, WARM_UP, super::warm_up(senders)).await;

    let push = fixture("push");
    let sig: Arc<str> = sign(&push).into();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (push, sig, next) = (push.clone(), sig.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while Instant::now() < until {
                let id = format!("{PREFIX}{:012}", next.fetch_add(1, Ordering::Relaxed));
                let t = Instant::now();
                let status = post(&mut conn, "push", &id, &push, &sig).await;
                answers.push(Answer {
                    at_ms: started.elapsed().as_millis() as u32,
                    latency: t.elapsed(),
                    accepted: status == 202,
                });
            }
            answers
        }));
    }
    // Once a second: the backlog of stored deliveries not processed yet, and the log's size.
    let wal = wal_path(testdb);
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::from_std(started) + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    for _ in 0..secs {
        tick.tick().await;
        let backlog = count(
            &db,
            "SELECT COUNT(*) FROM deliveries WHERE status = 'received'",
        )
        .await;
        let wal_mib = wal
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| common::mib(m.len() / 1024));
        samples.push((backlog, wal_mib));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.extend(t.await.expect("a sender"));
    }
    let sent_for = started.elapsed();
    let mine = format!("delivery_id LIKE '{PREFIX}%'");
    let processed_when_sent = count(
        &db,
        &format!("SELECT COUNT(*) FROM deliveries WHERE {mine} AND status <> 'received'"),
    )
    .await;

    // Per second of the run, by when each request was answered.
    let mut seconds: Vec<Vec<Duration>> = vec![Vec::new(); secs as usize];
    let mut accepted_per_second = vec![0usize; secs as usize];
    for a in &answers {
        let s = (a.at_ms / 1000) as usize;
        if s < seconds.len() {
            seconds[s].push(a.latency);
            accepted_per_second[s] += a.accepted as usize;
        }
    }
    println!(
        "{engine:<8} sustained, {senders} senders, {secs} s: per second accepted, p99 ms, backlog, WAL MiB"
    );
    let mut rows = Vec::new();
    for (s, lat) in seconds.iter_mut().enumerate() {
        lat.sort();
        let (backlog, wal) = samples.get(s).copied().unwrap_or((0, None));
        let p99 = common::ms(common::pct(lat, 0.99));
        println!(
            "{engine:<8}   {:>3} {:>7} {p99:>8.2} {backlog:>8} {:>7}",
            s + 1,
            accepted_per_second[s],
            wal.map(|w| format!("{w:.1}")).unwrap_or_else(|| "-".into()),
        );
        rows.push(
            serde_json::json!({ "second": s + 1, "accepted": accepted_per_second[s],
            "p99_ms": p99, "backlog": backlog, "wal_mib": wal }),
        );
    }

    // Every accepted delivery must end up stored and processed.
    let accepted = answers.iter().filter(|a| a.accepted).count();
    let not_202 = answers.len() - accepted;
    let deadline = Instant::now() + Duration::from_secs(drain_secs);
    let drain_started = Instant::now();
    while count(
        &db,
        "SELECT COUNT(*) FROM deliveries WHERE status = 'received'",
    )
    .await
        > 0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained_after = drain_started.elapsed();
    let backlog_left = count(
        &db,
        "SELECT COUNT(*) FROM deliveries WHERE status = 'received'",
    )
    .await;
    let stored = count(
        &db,
        &format!("SELECT COUNT(*) FROM deliveries WHERE {mine}"),
    )
    .await;
    let processed = count(
        &db,
        &format!("SELECT COUNT(*) FROM deliveries WHERE {mine} AND status = 'processed'"),
    )
    .await;

    let mut all: Vec<Duration> = answers.iter().map(|a| a.latency).collect();
    all.sort();
    let mut per_second = accepted_per_second.clone();
    per_second.sort();
    let median = per_second.get(per_second.len() / 2).copied().unwrap_or(0);
    let slowest = per_second.first().copied().unwrap_or(0);
    let p99 = common::pct(&all, 0.99);
    let pass = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let p99_ok = p99 < Duration::from_millis(25);
    let steady = slowest * 2 >= median;
    let nothing_lost = not_202 == 0 && stored as usize == accepted && processed == stored;
    let drained = backlog_left == 0;
    let drain_rate =
        (processed - processed_when_sent) as f64 / drained_after.as_secs_f64().max(0.001);
    println!(
        "{engine:<8} sustained {senders} senders {secs} s: {accepted} accepted ({:.0}/s), {not_202} not 202; \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        accepted as f64 / sent_for.as_secs_f64(),
        common::ms(common::pct(&all, 0.5)),
        common::ms(p99),
        common::ms(all.last().copied().unwrap_or_default()),
    );
    println!(
        "{engine:<8}   processed {processed_when_sent} while sending ({:.0}/s); drain: {} {:.1} s after \
         sending ended ({drain_rate:.0}/s); stored {stored}, processed {processed}",
        processed_when_sent as f64 / sent_for.as_secs_f64(),
        if drained { "all processed" } else { "NOT all processed (BENCH_DRAIN_SECS ran out)" },
        drained_after.as_secs_f64(),
    );
    println!(
        "{engine:<8}   {}: p99 {:.2} ms under 25 ms",
        pass(p99_ok),
        common::ms(p99)
    );
    println!(
        "{engine:<8}   {}: slowest second {slowest} / median {median} = {:.2} (at least 0.5)",
        pass(steady),
        slowest as f64 / median.max(1) as f64
    );
    println!(
        "{engine:<8}   {}: nothing lost ({not_202} not 202, {stored} stored of {accepted} accepted, \
         {processed} processed)",
        pass(nothing_lost)
    );
    let _ = db.close().await;
    app.stop();
    serde_json::json!({
        "engine": engine, "senders": senders, "seconds": secs, "accepted": accepted,
        "not_202": not_202, "accepted_per_s": (accepted as f64 / sent_for.as_secs_f64()).round(),
        "p50_ms": common::ms(common::pct(&all, 0.5)), "p99_ms": common::ms(p99),
        "max_ms": common::ms(all.last().copied().unwrap_or_default()),
        "median_second": median, "slowest_second": slowest, "stored": stored,
        "processed": processed, "processed_when_sent": processed_when_sent,
        "drained": drained, "drained_after_s": drained_after.as_secs_f64(),
        "drain_per_s": drain_rate.round(),
        "p99_under_25ms": pass(p99_ok), "no_second_below_half_median": pass(steady),
        "nothing_lost": pass(nothing_lost), "per_second": rows,
        "pass": p99_ok && steady && nothing_lost,
    })
}
