//! A real `hubsync serve` process (the binary cargo built for the tests), for tests that need
//! several replicas on one database or a process killed with SIGKILL.
use std::{
    io::{BufRead, BufReader},
    process::{Child, Stdio},
};

use super::{fake_github::FakeGithub, hubsync_bin, webhooks::SECRET};

pub const ADMIN: &str = "replica-test-admin-token-0123456789abcdef";

pub struct Replica {
    pub name: &'static str,
    pub base: String,
    child: Child,
}

impl Replica {
    /// Starts `hubsync serve` on a free port against `database_url` and the fake GitHub; waits
    /// for its `listening` log line.
    pub async fn start(
        name: &'static str,
        fake: &FakeGithub,
        database_url: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let mut cmd = hubsync_bin();
        for (k, v) in fake.app_env() {
            cmd.env(k, v);
        }
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url)
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("HUBSYNC_ADMIN_TOKEN", ADMIN)
            .env("HUBSYNC_LOG_FORMAT", "json")
            .env("HUBSYNC_RECONCILE_SECS", "0")
            .env("HUBSYNC_WEBHOOK_RETRY_MS", "20")
            .env("HUBSYNC_SYNC_RETRY_SECS", "0.2")
            .env("RUST_LOG", "warn,hubsync::startup=info");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hubsync starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let addr = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines();
            let addr = loop {
                let line = lines
                    .next()
                    .expect("hubsync logs a 'listening' line")
                    .expect("stderr is readable");
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if v["message"] == "listening" {
                    break v["addr"].as_str().expect("an address").to_owned();
                }
            };
            // Keep draining, so the child never blocks on a full pipe; show what it says.
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    eprintln!("[{name}] {line}");
                }
            });
            addr
        })
        .await
        .expect("reading the child's log");
        Self {
            name,
            base: format!("http://{addr}"),
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether a sync worker id (`host:pid:n`) belongs to this process.
    pub fn owns(&self, worker: &str) -> bool {
        worker.contains(&format!(":{}:", self.pid()))
    }

    /// SIGKILL: no clean-up at all.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
