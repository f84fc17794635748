//! What the benches share: the engines to run on, the hubsync binary as a child process (so its
//! memory is its own, not mixed with the fake GitHub's or the load generator's), percentiles,
//! and the JSON report under target/bench/.
#![allow(dead_code)]

pub mod http1;

use std::{
    path::PathBuf,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::{fake_github::FakeGithub, hubsync_bin, webhooks::SECRET};

pub const ADMIN: &str = "bench-admin-token-0123456789abcdef0123";

/// A fresh database for one bench case (tests/support/db.rs), dropped after it.
pub type BenchDb = crate::support::TestDb;

fn pg_admin() -> Option<String> {
    std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .ok()
        .filter(|u| !u.is_empty())
}

/// A SQLite file in a temp dir, or a new `hubsync_bench_*` database on the PostgreSQL server (so
/// that test clean-ups never take it).
pub async fn fresh_db(engine: &str) -> Option<BenchDb> {
    if engine == "sqlite" {
        return Some(BenchDb::sqlite().await);
    }
    Some(BenchDb::postgres_on(&pg_admin()?, "hubsync_bench").await)
}

/// SQLite, and PostgreSQL when a server is named; BENCH_ENGINES=postgres (or sqlite) picks one.
pub fn engines() -> Vec<&'static str> {
    let mut engines = vec!["sqlite"];
    if pg_admin().is_some() {
        engines.push("postgres");
    } else {
        println!("postgres: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)");
    }
    if let Ok(only) = std::env::var("BENCH_ENGINES") {
        engines.retain(|e| only.split(',').any(|o| o.trim() == *e));
    }
    engines
}

/// A comma-separated list of numbers from `var`, or the defaults.
pub fn list_var(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

pub fn num_var(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The hubsync binary (release, built by `cargo bench`) serving on a free loopback port.
pub struct ChildApp {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl ChildApp {
    /// With `fake`, the app uses it as GitHub; without, it has only a webhook secret.
    pub async fn start(fake: Option<&FakeGithub>, db: &BenchDb, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log =
            std::env::temp_dir().join(format!("hubsync-bench-{}-{port}.log", std::process::id()));
        let mut cmd = hubsync_bin();
        // Another build (say, of the commit before a change) to compare with in the same run.
        if let Ok(bin) = std::env::var("BENCH_HUBSYNC_BIN") {
            let mut other = std::process::Command::new(bin);
            other.env_clear().envs(
                std::env::vars()
                    .filter(|(k, _)| !k.starts_with("HUBSYNC_") && !k.starts_with("GITHUB_")),
            );
            cmd = other;
        }
        cmd.arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("HUBSYNC_BIND", format!("127.0.0.1:{port}"))
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("HUBSYNC_ADMIN_TOKEN", ADMIN)
            .env("HUBSYNC_RECONCILE_SECS", "0")
            .env("HUBSYNC_REDELIVERY_SECS", "0")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_APP_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in fake.map(FakeGithub::app_env).unwrap_or_default() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("hubsync starts");
        let app = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(app.url("/healthz")).send().await {
                if r.status().is_success() {
                    return app;
                }
            }
            assert!(
                Instant::now() < deadline,
                "hubsync did not become healthy; see {}",
                app.log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory since start or the last `reset_peak`, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmHWM").unwrap_or(0)
    }

    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmRSS").unwrap_or(0)
    }

    /// CPU time (user + system) the server has used so far.
    pub fn cpu(&self) -> Duration {
        cpu_of(&self.pid().to_string())
    }

    /// Starts a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM).
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// SIGTERM, then waits for the graceful stop.
    pub fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time (user + system) of a process so far: `/proc/PID/stat` fields 14 and 15, in clock
/// ticks (100 per second on Linux). Steadier than latency on a shared machine.
pub fn cpu_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

pub fn self_peak_rss_kib() -> u64 {
    status_kib(std::process::id(), "VmHWM").unwrap_or(0)
}

/// The p-th percentile (0..=1) of sorted values.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 1e2
}

pub fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// Writes `report` to target/bench/NAME.json and says where.
pub fn write_report(name: &str, report: &Value) {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(report).unwrap()).expect("write report");
    if let Some(speed) = report["machine"].get("speed") {
        println!("machine yardsticks: {speed}");
    }
    println!("report: {}", path.display());
}

/// Where the figures come from, for the report.
pub fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default();
    serde_json::json!({ "cpus": cpus, "cpu": model, "os": std::env::consts::OS, "speed": speed() })
}

/// Two yardsticks of the machine, so that figures from different machines can be compared: VMs
/// that report the same CPU model have differed twofold here. The server's own work per
/// delivery is mostly JSON, hashing and loopback TCP, so: one parse of the 9 KB push payload on
/// one core, and one 1-byte round trip over loopback TCP between two threads.
pub fn speed() -> Value {
    use std::io::{Read, Write};
    let push = crate::support::webhooks::fixture("push");
    let parses = 2_000;
    let t = Instant::now();
    for _ in 0..parses {
        std::hint::black_box(serde_json::from_slice::<Value>(&push).expect("the fixture parses"));
    }
    let parse_us = t.elapsed().as_secs_f64() * 1e6 / parses as f64;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let echo = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("the yardstick connects");
        s.set_nodelay(true).expect("nodelay");
        let mut b = [0u8];
        while s.read_exact(&mut b).is_ok() && s.write_all(&b).is_ok() {}
    });
    let mut s = std::net::TcpStream::connect(addr).expect("loopback connects");
    s.set_nodelay(true).expect("nodelay");
    let trips = 5_000;
    let mut b = [0u8];
    let t = Instant::now();
    for _ in 0..trips {
        s.write_all(&b)
            .and_then(|_| s.read_exact(&mut b))
            .expect("a round trip");
    }
    let trip_us = t.elapsed().as_secs_f64() * 1e6 / trips as f64;
    drop(s);
    let _ = echo.join();
    let round = |x: f64| (x * 10.0).round() / 10.0;
    serde_json::json!({ "push_parse_us": round(parse_us), "loopback_round_trip_us": round(trip_us) })
}

/// Raises this process's open-file limit to the hard limit; returns the soft limit now in force.
pub fn raise_nofile() -> u64 {
    // No libc dependency for one call: `ulimit` is per process, so ask the kernel via prlimit(1)
    // when present, else report the current limit.
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=unlimited:unlimited"])
        .stderr(Stdio::null())
        .status();
    let hard = limit_of(&pid, true);
    if let Some(hard) = hard {
        let _ = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
            .stderr(Stdio::null())
            .status();
    }
    limit_of(&pid, false).unwrap_or(0)
}

fn limit_of(pid: &str, hard: bool) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    f.get(if hard { 4 } else { 3 })?.parse().ok()
}
