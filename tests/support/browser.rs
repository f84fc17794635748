//! Headless Chromium for browser tests, driven over WebDriver: a chromedriver spawned on a free
//! port, a fresh profile per browser, everything killed when the `Browser` is dropped.
//!
//! Debian's `chromium` and `chromium-driver` packages provide both binaries (`.ci/run` installs
//! them). Without chromedriver a browser test is skipped loudly, or fails when
//! `HUBSYNC_REQUIRE_BROWSER=1` (as in CI).
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use fantoccini::{error::CmdError, wd::WebDriverCompatibleCommand, Client, ClientBuilder};
use serde_json::{json, Value};

const REQUIRE: &str = "HUBSYNC_REQUIRE_BROWSER";
const ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
];

pub struct Browser {
    pub client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; None (after saying so) when this
    /// machine has no chromedriver and the browser is not required.
    pub async fn start(test: &str) -> Option<Self> {
        let (Some(driver), Some(chromium)) = (
            find(&["chromedriver"], "HUBSYNC_CHROMEDRIVER"),
            find(&["chromium", "chromium-browser"], "HUBSYNC_CHROMIUM"),
        ) else {
            let why = "chromedriver or chromium is not installed (apt-get install chromium chromium-driver)";
            if std::env::var(REQUIRE).is_ok_and(|v| v == "1") {
                panic!("{test}: {why}, and {REQUIRE}=1");
            }
            eprintln!("\n!!!!!!!! SKIPPED {test}: {why} !!!!!!!!\n");
            return None;
        };
        let port = free_port();
        let mut cmd = tokio::process::Command::new(&driver);
        cmd.arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            // Its own process group, so dropping the browser ends Chromium too.
            .process_group(0);
        let mut child = cmd.spawn().expect("chromedriver starts");
        listening(&mut child).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser_args: Vec<String> = ARGS.iter().map(|a| a.to_string()).collect();
        browser_args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": browser_args },
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("no WebDriver session from {}: {e}", driver.display()));
        Some(Self {
            client,
            driver: child,
            _profile: profile,
        })
    }

    /// Ends the session (chromedriver quits Chromium), then chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }

    /// Saves a PNG of the viewport under target/browser/; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = target_dir().join("browser");
        std::fs::create_dir_all(&dir).expect("target/browser");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("screenshot written");
        path
    }
}

/// A Chrome DevTools command through chromedriver's `goog/cdp/execute` (device and media
/// emulation have no WebDriver command).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

impl Browser {
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Result<Value, CmdError> {
        self.client.issue_cmd(Cdp { cmd, params }).await
    }

    /// Emulates a phone's viewport (`mobile`: the viewport meta tag applies) or a desktop one.
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        let params =
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile });
        self.cdp("Emulation.setDeviceMetricsOverride", params)
            .await
            .expect("viewport emulation");
    }

    /// Emulates `prefers-color-scheme`.
    pub async fn color_scheme(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        let params = json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] });
        self.cdp("Emulation.setEmulatedMedia", params)
            .await
            .expect("media emulation");
    }

    /// Fails when the page scrolls sideways: its content is wider than the viewport.
    pub async fn assert_no_horizontal_overflow(&self, what: &str) {
        let js = "const d = document.documentElement;                   const wide = [...document.querySelectorAll('body *')]                     .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)                     .slice(0, 5).map((e) => e.tagName + '.' + e.className);                   return { scroll: d.scrollWidth, inner: window.innerWidth, wide };";
        let m = self.client.execute(js, vec![]).await.expect("measured");
        let (scroll, inner) = (m["scroll"].as_f64().unwrap(), m["inner"].as_f64().unwrap());
        assert!(
            scroll <= inner,
            "{what}: {scroll} px wide in a {inner} px viewport: {m}"
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failing test never reaches close(): end the whole group (chromedriver and Chromium).
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn find(names: &[&str], var: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Cargo's target directory: CARGO_TARGET_DIR, else the one the test binary runs from.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // target/debug/deps/integration-HASH
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Waits until chromedriver says it listens ("... started successfully ..."), then drains
/// what else it prints.
async fn listening(driver: &mut tokio::process::Child) {
    use tokio::io::AsyncBufReadExt;
    let out = driver
        .stdout
        .take()
        .expect("chromedriver's stdout is piped");
    let mut lines = tokio::io::BufReader::new(out).lines();
    let started = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("started successfully") {
                return true;
            }
        }
        false
    };
    let ok = tokio::time::timeout(Duration::from_secs(30), started).await;
    assert!(ok == Ok(true), "chromedriver did not start: {ok:?}");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
}

/// Waits in the page until `js` (a function body returning a boolean) is true: checked at once
/// and again on every change to the document, as the page's own script (fed by the event stream)
/// makes it. A navigation ends a check; the next one runs in the new page. False at `deadline`.
pub async fn dom_until(c: &Client, js: &str, deadline: tokio::time::Instant) -> bool {
    let script = format!(
        r#"const done = arguments[arguments.length - 1];
        const check = () => {{ try {{ return (function () {{ {js} }})() === true; }} catch (e) {{ return false; }} }};
        if (check()) {{ done(true); return; }}
        const seen = new MutationObserver(() => {{ if (check()) {{ seen.disconnect(); done(true); }} }});
        seen.observe(document, {{ subtree: true, childList: true, attributes: true, characterData: true }});
        // Within WebDriver's script timeout (30 s by default): the caller asks again.
        setTimeout(() => {{ seen.disconnect(); done(check()); }}, 10000);"#
    );
    loop {
        if c.execute_async(&script, vec![]).await.ok() == Some(json!(true)) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
    }
}
