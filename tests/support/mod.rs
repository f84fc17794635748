//! What every integration test needs: a fresh database per engine and the real app on port 0.
#![allow(dead_code)]

pub mod browser;
mod db;
pub mod fake_github;
pub mod receiver;
pub mod replica;
pub mod schema;
pub mod seed;
pub mod signing;
pub mod sse;
pub mod synced;
pub mod wait;
pub mod webhooks;

pub use db::{postgres_missing, TestDb};
use hubsync::{
    config::{Config, Overrides},
    startup::{self, RunningApp},
};

pub struct TestApp {
    pub app: RunningApp,
    pub base: String,
    pub client: reqwest::Client,
}

/// Configuration for a test app: port 0, the test's database, no GitHub credentials.
pub fn test_config(db: &TestDb, vars: &[(&str, &str)]) -> Config {
    let overrides = Overrides {
        bind: Some("127.0.0.1:0".into()),
        database_url: Some(db.url.clone()),
    };
    Config::from_lookup(&overrides, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("test configuration is valid")
}

pub async fn spawn_app(db: &TestDb) -> TestApp {
    spawn_app_with(test_config(db, &[])).await
}

/// Logs go through the test harness (shown for failing tests only); RUST_LOG widens them.
pub fn init_test_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    init_test_tracing();
    let app = startup::run(config).await.expect("app starts");
    let base = app.base_url();
    TestApp {
        app,
        base,
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn stop(self) {
        self.app.stop().await.expect("app stops cleanly");
    }
}

/// The hubsync binary cargo built for these tests.
pub fn hubsync_bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hubsync"));
    for var in [
        "DATABASE_URL",
        "HUBSYNC_BIND",
        "GITHUB_APP_ID",
        "GITHUB_PRIVATE_KEY",
        "GITHUB_PRIVATE_KEY_PATH",
        "GITHUB_WEBHOOK_SECRET",
        "HUBSYNC_LOG_FORMAT",
        "HUBSYNC_PUBLIC_URL",
        "HUBSYNC_CREDENTIALS_PATH",
        "HUBSYNC_GITHUB_CONCURRENCY",
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Opens the app's first-run setup link, as the operator's browser would: the session cookie
/// pair (`hubsync_session=...`) of the first admin.
pub async fn first_admin(app: &TestApp) -> String {
    let link = app
        .app
        .setup_link
        .as_ref()
        .expect("no admin yet, so a setup link");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        // The link names the public URL; the test reaches the app at its bound address.
        .get(self_url(app, link.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        reqwest::StatusCode::SEE_OTHER,
        "the setup link works"
    );
    let set = r.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

fn self_url(app: &TestApp, link: &str) -> String {
    let u = url::Url::parse(link).expect("the setup link is a URL");
    app.url(&format!("{}?{}", u.path(), u.query().unwrap_or_default()))
}
