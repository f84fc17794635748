//! The real `hubsync serve` binary as a child process: a second replica, or a process whose own
//! log subscriber (RUST_LOG, HUBSYNC_LOG_FORMAT) is the one under test.
use std::{
    io::{BufRead, BufReader},
    process::{Child, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::watch;

use crate::support::{hubsync_bin, wait};

pub struct ChildApp {
    pub base: String,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// What it printed on standard output (the first run's setup link), line by line.
    stdout: Arc<watch::Sender<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ChildApp {
    /// Starts `hubsync serve` on a free port with `env` (JSON logs, so the address can be read).
    pub async fn start(env: &[(&str, String)]) -> Self {
        let mut cmd = hubsync_bin();
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env("HUBSYNC_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("hubsync starts");
        let stderr = child.stderr.take().unwrap();
        let stdout = Arc::new(watch::Sender::new(Vec::new()));
        let out = stdout.clone();
        let pipe = child.stdout.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                out.send_modify(|lines| lines.push(line));
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let lines = log.clone();
        let reader = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.is_some() {
                    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                    if v["message"] == "listening" {
                        let addr = v["addr"].as_str().unwrap_or_default().to_owned();
                        let _ = tx.take().map(|tx| tx.send(addr));
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("hubsync did not start: {:?}", log.lock().unwrap()));
        Self {
            base: format!("http://{addr}"),
            child,
            log,
            stdout,
            readers: vec![reader, out_reader],
        }
    }

    /// Every line printed on standard output so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.borrow().clone()
    }

    /// Waits for a line on standard output containing `needle`.
    pub async fn stdout_line(&self, needle: &str) -> String {
        let mut lines = self.stdout.subscribe();
        let what = format!("{needle:?} on stdout");
        wait::until(&what, &mut lines, async || {
            self.stdout().into_iter().find(|l| l.contains(needle))
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGTERM, waits for the graceful stop, and returns everything it logged.
    pub async fn stop(self) -> String {
        self.stop_all().await.0
    }

    /// `stop`, and everything it printed on standard output.
    pub async fn stop_all(mut self) -> (String, Vec<String>) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let mut child = std::mem::replace(&mut self.child, dummy());
        let readers = std::mem::take(&mut self.readers);
        tokio::task::spawn_blocking(move || {
            let _ = child.wait();
            for r in readers {
                let _ = r.join();
            }
        })
        .await
        .unwrap();
        (self.log.lock().unwrap().join("\n"), self.stdout())
    }
}

/// Stands in for the child once it has been waited for.
fn dummy() -> Child {
    std::process::Command::new("true")
        .spawn()
        .expect("`true` runs")
}

impl Drop for ChildApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
