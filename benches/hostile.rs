//! The webhook endpoint under hostile load (issue 19, item 2): signed push deliveries sent at a
//! steady pace, first alone (baseline), then beside 200 connections that each declare a 25 MiB
//! body and trickle it at one byte a second (reconnecting as soon as hubsync cuts them off), then
//! beside 40 connections that send 25 MiB bodies as fast as they can. Prints, per engine, the
//! deliveries' latency in each phase side by side (with the ratio to the baseline), how many were
//! accepted, what the attackers were answered, and the server's resident memory (sampled every
//! 100 ms, and its peak). hubsync runs as a child process (release build), with default limits.
//!
//! `cargo bench --bench hostile`; BENCH_SECS (30, per phase), BENCH_TRICKLERS (200),
//! BENCH_FLOODERS (40, 0 skips that phase), BENCH_SENDERS (4), BENCH_PAUSE_MS (20, between one
//! sender's deliveries), BENCH_ENGINES.
#[path = "common/mod.rs"]
#[allow(unused)]
mod common;
#[path = "../tests/support/mod.rs"]
#[allow(unused)]
mod support;

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use common::{http1::Conn, mib, ms, num_var, pct, ChildApp};
use serde_json::json;
use support::{signing::github_signature, webhooks::SECRET};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// GitHub's cap, and hubsync's default HUBSYNC_WEBHOOK_MAX_BYTES: not refused for its size.
const DECLARED: usize = 25 * 1024 * 1024;

#[derive(Default)]
struct Attack {
    /// Connections open right now, and the fewest seen open while the phase ran.
    open: AtomicUsize,
    connects: AtomicU64,
    /// What the attackers were answered, by status (0: closed without an answer).
    answers: Mutex<BTreeMap<u16, u64>>,
    bytes_sent: AtomicU64,
}

impl Attack {
    fn answered(&self, status: u16) {
        *self.answers.lock().unwrap().entry(status).or_default() += 1;
    }
}

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

fn attacker_head(n: u64) -> String {
    format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: hubsync\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: push\r\nX-GitHub-Delivery: 00000000-0000-4000-a000-{n:012}\r\n\
         X-Hub-Signature-256: sha256={}\r\nContent-Length: {DECLARED}\r\n\r\n",
        "0".repeat(64)
    )
}

/// The status of whatever hubsync answered on `s`, if it did.
fn status_of(buf: &[u8]) -> u16 {
    std::str::from_utf8(buf)
        .ok()
        .and_then(|s| s.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// One slow sender: declares 25 MiB, sends a byte a second until hubsync answers or closes,
/// then starts again.
async fn trickler(base: String, stop: Arc<AtomicBool>, attack: Arc<Attack>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr(&base)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let n = attack.connects.fetch_add(1, Ordering::Relaxed);
        if s.write_all(attacker_head(n).as_bytes()).await.is_err() {
            attack.answered(0);
            continue;
        }
        attack.open.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; 512];
        let status = loop {
            tokio::select! {
                read = s.read(&mut buf) => break match read { Ok(n) if n > 0 => status_of(&buf[..n]), _ => 0 },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if stop.load(Ordering::Relaxed) { break u16::MAX; }
                    if s.write_all(b" ").await.is_err() { break 0; }
                    attack.bytes_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        };
        attack.open.fetch_sub(1, Ordering::Relaxed);
        if status != u16::MAX {
            attack.answered(status);
        }
    }
}

/// One fast sender: declares 25 MiB and sends it as fast as loopback takes it, again and again.
async fn flooder(base: String, stop: Arc<AtomicBool>, attack: Arc<Attack>) {
    let chunk = vec![b' '; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let Ok(s) = TcpStream::connect(addr(&base)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let n = attack.connects.fetch_add(1, Ordering::Relaxed);
        let (mut r, mut w) = s.into_split();
        attack.open.fetch_add(1, Ordering::Relaxed);
        let writer = {
            let (stop, attack, chunk) = (stop.clone(), attack.clone(), chunk.clone());
            tokio::spawn(async move {
                if w.write_all(attacker_head(n).as_bytes()).await.is_err() {
                    return;
                }
                let mut sent = 0;
                while sent < DECLARED && !stop.load(Ordering::Relaxed) {
                    let len = chunk.len().min(DECLARED - sent);
                    if w.write_all(&chunk[..len]).await.is_err() {
                        return;
                    }
                    sent += len;
                    attack.bytes_sent.fetch_add(len as u64, Ordering::Relaxed);
                }
            })
        };
        let mut buf = [0u8; 512];
        let status = match tokio::time::timeout(Duration::from_secs(60), r.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => status_of(&buf[..n]),
            _ => 0,
        };
        writer.abort();
        attack.open.fetch_sub(1, Ordering::Relaxed);
        if !stop.load(Ordering::Relaxed) {
            attack.answered(status);
        }
    }
}

/// Signed pushes from `senders` keep-alive connections, each pausing `pause` between its own
/// deliveries, until `stop`: every latency, and the statuses.
async fn deliveries(
    base: &str,
    senders: usize,
    pause: Duration,
    prefix: &str,
    stop: Arc<AtomicBool>,
) -> (Vec<Duration>, BTreeMap<u16, u64>) {
    let push = support::webhooks::fixture("push");
    let sig: Arc<str> = github_signature(SECRET, &push).into();
    let push: Arc<[u8]> = push.into();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (push, sig, next, stop) = (push.clone(), sig.clone(), next.clone(), stop.clone());
        let (base, prefix) = (base.to_owned(), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(&base);
            let (mut latencies, mut statuses) = (Vec::new(), BTreeMap::new());
            while !stop.load(Ordering::Relaxed) {
                let id = format!("{prefix}{:012}", next.fetch_add(1, Ordering::Relaxed));
                let headers = [
                    ("Content-Type", "application/json"),
                    ("User-Agent", "GitHub-Hookshot/bench"),
                    ("X-GitHub-Event", "push"),
                    ("X-GitHub-Delivery", id.as_str()),
                    ("X-Hub-Signature-256", sig.as_ref()),
                ];
                let t = Instant::now();
                let status = conn.post("/webhooks/github", &headers, &push).await;
                latencies.push(t.elapsed());
                *statuses.entry(status).or_insert(0u64) += 1;
                tokio::time::sleep(pause).await;
            }
            (latencies, statuses)
        }));
    }
    let (mut all, mut statuses) = (Vec::new(), BTreeMap::new());
    for t in tasks {
        let (l, s) = t.await.expect("a sender");
        all.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_insert(0) += v;
        }
    }
    all.sort();
    (all, statuses)
}

struct Phase {
    name: &'static str,
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    rss_max_kib: u64,
    peak_kib: u64,
    fewest_open: usize,
    attack: Option<Arc<Attack>>,
}

async fn phase(
    app: &ChildApp,
    name: &'static str,
    attackers: usize,
    flood: bool,
    secs: u64,
) -> Phase {
    let senders = num_var("BENCH_SENDERS", 4);
    let pause = Duration::from_millis(num_var("BENCH_PAUSE_MS", 20) as u64);
    let stop = Arc::new(AtomicBool::new(false));
    let attack = Arc::new(Attack::default());
    let mut tasks = Vec::new();
    for _ in 0..attackers {
        let (base, stop, attack) = (app.base.clone(), stop.clone(), attack.clone());
        tasks.push(if flood {
            tokio::spawn(flooder(base, stop, attack))
        } else {
            tokio::spawn(trickler(base, stop, attack))
        });
    }
    // The attackers get in first.
    let ramp = Instant::now();
    while attack.open.load(Ordering::Relaxed) < attackers
        && ramp.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.reset_peak();
    let send_stop = Arc::new(AtomicBool::new(false));
    let sending = {
        let (base, send_stop) = (app.base.clone(), send_stop.clone());
        let prefix = format!("00000000-0000-4000-{:04x}-", name.len() * 4096 + attackers);
        tokio::spawn(async move { deliveries(&base, senders, pause, &prefix, send_stop).await })
    };
    let (mut rss_max, mut fewest_open) = (0, usize::MAX);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        rss_max = rss_max.max(app.rss_kib());
        fewest_open = fewest_open.min(attack.open.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    send_stop.store(true, Ordering::Relaxed);
    let (latencies, statuses) = sending.await.expect("the senders");
    let peak_kib = app.peak_rss_kib();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    Phase {
        name,
        latencies,
        statuses,
        rss_max_kib: rss_max,
        peak_kib,
        fewest_open: if attackers == 0 { 0 } else { fewest_open },
        attack: (attackers > 0).then_some(attack),
    }
}

fn line(engine: &str, p: &Phase, baseline_p99: Duration) -> serde_json::Value {
    let l = &p.latencies;
    let accepted = p.statuses.get(&202).copied().unwrap_or(0);
    let total: u64 = p.statuses.values().sum();
    let p99 = pct(l, 0.99);
    let ratio = p99.as_secs_f64() / baseline_p99.as_secs_f64().max(1e-9);
    let answers = p
        .attack
        .as_ref()
        .map(|a| format!("{:?}", a.answers.lock().unwrap()))
        .unwrap_or_default();
    let (connects, sent) = p.attack.as_ref().map_or((0, 0), |a| {
        (
            a.connects.load(Ordering::Relaxed),
            a.bytes_sent.load(Ordering::Relaxed),
        )
    });
    println!(
        "{engine:<8} {:<10} {accepted:>6}/{total:<6} {:>7.2} {:>7.2} {:>5.2}x {:>8.2} {:>8.1} {:>8.1} {:>6} {connects:>8} {:>9.3}  {answers}",
        p.name,
        ms(pct(l, 0.5)),
        ms(p99),
        ratio,
        ms(l.last().copied().unwrap_or_default()),
        mib(p.rss_max_kib),
        mib(p.peak_kib),
        p.fewest_open,
        sent as f64 / 1048576.0,
    );
    json!({
        "engine": engine, "phase": p.name, "accepted": accepted, "sent": total,
        "statuses": p.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
        "p50_ms": ms(pct(l, 0.5)), "p99_ms": ms(p99), "max_ms": ms(l.last().copied().unwrap_or_default()),
        "p99_vs_baseline": (ratio * 100.0).round() / 100.0,
        "rss_max_mib": mib(p.rss_max_kib), "peak_rss_mib": mib(p.peak_kib),
        "attackers_open_at_least": p.fewest_open, "attacker_connects": connects,
        "attacker_mib_sent": sent as f64 / 1048576.0, "attacker_answers": answers,
    })
}

#[tokio::main]
async fn main() {
    let secs = num_var("BENCH_SECS", 30) as u64;
    let tricklers = num_var("BENCH_TRICKLERS", 200);
    let flooders = num_var("BENCH_FLOODERS", 40);
    let nofile = common::raise_nofile();
    println!(
        "hostile load: {tricklers} tricklers (25 MiB declared, 1 byte/s), {flooders} flooders (25 MiB at full speed), {secs} s per phase; open files {nofile}"
    );
    println!(
        "{:<8} {:<10} {:>13} {:>7} {:>7} {:>6} {:>8} {:>8} {:>8} {:>6} {:>8} {:>9}  attackers answered",
        "engine", "phase", "accepted", "p50 ms", "p99 ms", "p99/x", "max ms", "RSS MiB", "peak MiB", "open", "connects", "sent MiB"
    );
    let mut rows = Vec::new();
    for engine in common::engines() {
        let Some(db) = common::fresh_db(engine).await else {
            continue;
        };
        let app = ChildApp::start(None, &db, &[]).await;
        let baseline = phase(&app, "baseline", 0, false, secs).await;
        let base_p99 = pct(&baseline.latencies, 0.99);
        rows.push(line(engine, &baseline, base_p99));
        let trickle = phase(&app, "trickle", tricklers, false, secs).await;
        rows.push(line(engine, &trickle, base_p99));
        if flooders > 0 {
            let flood = phase(&app, "flood", flooders, true, secs).await;
            rows.push(line(engine, &flood, base_p99));
        }
        let trickle_ok = pct(&trickle.latencies, 0.99) < Duration::from_millis(100)
            && trickle.peak_kib < 150 * 1024;
        println!(
            "{engine:<8} target (trickle: p99 under 100 ms, peak RSS under 150 MiB): {}",
            if trickle_ok { "met" } else { "MISSED" }
        );
        app.stop();
    }
    common::write_report(
        "hostile",
        &json!({ "machine": common::machine(), "rows": rows }),
    );
}
