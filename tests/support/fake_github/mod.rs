//! A fake GitHub for tests: an in-process HTTP server on port 0 that answers the REST endpoints
//! hubsync uses (and the app-manifest web flow) with GitHub's JSON shapes, status codes and
//! headers, backed by real git repositories that tests commit to and push with the git CLI.
//!
//! ```ignore
//! let fake = FakeGithub::start().await;
//! let inst = fake.add_installation("octo-org");
//! let repo = fake.create_repo(inst, "widgets");
//! repo.write("README.md", "hello");
//! repo.commit("first");
//! let push = repo.push("main");
//! let delivery = fake.push_event(&push);          // signed with delivery.send(.., secret)
//! fake.inject(route::BLOB, Fault::Status(502), 3); // the next 3 blob requests fail
//! assert_eq!(fake.requests(route::ACCESS_TOKENS), 1);
//! ```
// Handlers return GitHub's error answer as the `Err` of their checks; size does not matter here.
#![allow(clippy::result_large_err)]

mod auth;
mod branches;
mod compare;
mod faults;
mod git_api;
mod hooks;
mod oauth;
mod repos;
mod routes;
mod server;
mod user_api;
mod users;
mod webhooks;

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use actix_web::{dev::ServerHandle, web};
use hubsync::github::{retry::RetryPolicy, GithubApp, GithubOptions};

pub use faults::Fault;
pub use repos::{FakeRepo, Push, ZERO_SHA};
pub use webhooks::WebhookDelivery;

use server::{Installation, RepoMeta, State};

/// The test app's private key (fixtures/test-app-key.pem: test-only).
pub const TEST_APP_KEY: &str = include_str!("../../../fixtures/test-app-key.pem");
const TEST_APP_PUBLIC_KEY: &str = include_str!("../../../fixtures/test-app-key.pub.pem");
pub const TEST_APP_ID: u64 = 4242;

/// Route keys, as the fake counts requests and as hubsync's client names them in traces.
pub mod route {
    pub const ACCESS_TOKENS: &str = "POST /app/installations/{installation_id}/access_tokens";
    pub const INSTALLATION_REPOS: &str = "GET /installation/repositories";
    pub const REPO: &str = "GET /repos/{owner}/{repo}";
    pub const REPO_BY_ID: &str = "GET /repositories/{repository_id}";
    pub const BRANCHES: &str = "GET /repos/{owner}/{repo}/branches";
    pub const BRANCH: &str = "GET /repos/{owner}/{repo}/branches/{branch}";
    pub const TREE: &str = "GET /repos/{owner}/{repo}/git/trees/{tree_sha}";
    pub const BLOB: &str = "GET /repos/{owner}/{repo}/git/blobs/{file_sha}";
    pub const TARBALL: &str = "GET /repos/{owner}/{repo}/tarball/{ref}";
    pub const CODELOAD: &str = "GET /_codeload/{owner}/{repo}/legacy.tar.gz/{sha}";
    pub const COMPARE: &str = "GET /repos/{owner}/{repo}/compare/{basehead}";
    pub const MANIFEST_CONVERSION: &str = "POST /app-manifests/{code}/conversions";
    pub const INSTALLATIONS: &str = "GET /app/installations";
    pub const INSTALLATION: &str = "GET /app/installations/{installation_id}";
    pub const HOOK_DELIVERIES: &str = "GET /app/hook/deliveries";
    pub const REDELIVER: &str = "POST /app/hook/deliveries/{delivery_id}/attempts";
    pub const OAUTH_TOKEN: &str = "POST /login/oauth/access_token";
    pub const USER: &str = "GET /user";
    pub const USER_INSTALLATIONS: &str = "GET /user/installations";
    pub const USER_INSTALLATION_REPOS: &str =
        "GET /user/installations/{installation_id}/repositories";
    pub const ORG_MEMBERSHIP: &str = "GET /orgs/{org}/memberships/{username}";
}

pub use oauth::{CLIENT_ID as TEST_CLIENT_ID, CLIENT_SECRET as TEST_CLIENT_SECRET};

pub struct FakeGithub {
    /// The server's root: both the API root (`GITHUB_API_URL`) and the web root (`GITHUB_URL`).
    pub url: String,
    state: Arc<State>,
    server: ServerHandle,
    _dir: tempfile::TempDir,
}

impl FakeGithub {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = Arc::new(State {
            base_url: OnceLock::new(),
            app_id: TEST_APP_ID,
            app_slug: "hubsync-test".into(),
            private_pem: TEST_APP_KEY.into(),
            decoding_key: jsonwebtoken::DecodingKey::from_rsa_pem(TEST_APP_PUBLIC_KEY.as_bytes())
                .expect("test public key"),
            dir: dir.path().to_owned(),
            token_lifetime: Mutex::new(Duration::from_secs(3600)),
            inner: Default::default(),
            counts: Default::default(),
            arrived: tokio::sync::watch::Sender::new(0),
            recursive_trees: Default::default(),
            faults: Default::default(),
            latency: Default::default(),
            in_flight: Default::default(),
            oauth: Mutex::new(oauth::OAuth::new()),
        });
        let server = server::start(web::Data::from(state.clone())).await;
        Self {
            url: state.base().to_owned(),
            state,
            server,
            _dir: dir,
        }
    }

    /// The variables that point hubsync at this fake as the test app.
    pub fn app_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_APP_ID", TEST_APP_ID.to_string()),
            ("GITHUB_PRIVATE_KEY", TEST_APP_KEY.to_string()),
            ("GITHUB_API_URL", self.url.clone()),
            ("GITHUB_URL", self.url.clone()),
        ]
    }

    /// Client options for this fake, with retry delays short enough for tests.
    pub fn options(&self) -> GithubOptions {
        GithubOptions {
            api_url: self.url.parse().expect("fake URL"),
            concurrency: 8,
            retry: RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                max_rate_limit_wait: Duration::from_secs(10),
            },
            request_timeout: Duration::from_secs(10),
            metrics: Default::default(),
        }
    }

    /// hubsync's GitHub App client, authenticated as the test app against this fake.
    pub fn app_client(&self) -> Arc<GithubApp> {
        self.app_client_with(self.options())
    }

    pub fn app_client_with(&self, options: GithubOptions) -> Arc<GithubApp> {
        let creds = hubsync::github::AppCredentials {
            app_id: TEST_APP_ID,
            private_key: hubsync::secret::Secret::new(TEST_APP_KEY),
        };
        Arc::new(GithubApp::new(&creds, options).expect("client builds"))
    }

    /// Installs the app on `account`; returns the installation id.
    pub fn add_installation(&self, account: &str) -> i64 {
        let mut inner = self.state.inner();
        let id = 1000 + inner.installations.len() as i64;
        inner.installations.insert(
            id,
            Installation {
                id,
                account_login: account.to_owned(),
                account_id: 9000 + id,
                repos: BTreeSet::new(),
                suspended_at: None,
            },
        );
        id
    }

    /// Creates an empty repository owned by the installation's account, visible to it.
    pub fn create_repo(&self, installation: i64, name: &str) -> FakeRepo {
        let owner = self.state.inner().installations[&installation]
            .account_login
            .clone();
        let (bare, work) = repos::init(&self.state.dir, &owner, name);
        let mut inner = self.state.inner();
        let id = 500_000 + inner.repos.len() as i64;
        inner.repos.insert(
            id,
            RepoMeta {
                id,
                installation,
                owner: owner.clone(),
                name: name.to_owned(),
                default_branch: "main".into(),
                private: true,
                bare: bare.clone(),
            },
        );
        if let Some(i) = inner.installations.get_mut(&installation) {
            i.repos.insert(id);
        }
        FakeRepo {
            id,
            owner,
            name: name.to_owned(),
            installation_id: installation,
            bare,
            work,
            state: self.state.clone(),
        }
    }

    /// `n` repositories the installation lists, without git repositories behind them (for
    /// listings only).
    pub fn add_listed_repos(&self, installation: i64, prefix: &str, n: usize) -> Vec<i64> {
        let mut inner = self.state.inner();
        let owner = inner.installations[&installation].account_login.clone();
        let mut ids = Vec::new();
        for i in 0..n {
            let id = 500_000 + inner.repos.len() as i64;
            inner.repos.insert(
                id,
                RepoMeta {
                    id,
                    installation,
                    owner: owner.clone(),
                    name: format!("{prefix}{i}"),
                    default_branch: "main".into(),
                    private: true,
                    bare: self.state.dir.join("absent"),
                },
            );
            if let Some(inst) = inner.installations.get_mut(&installation) {
                inst.repos.insert(id);
            }
            ids.push(id);
        }
        ids
    }

    /// The installation no longer sees the repository (its API answers 404).
    pub fn remove_from_installation(&self, installation: i64, repo_id: i64) {
        if let Some(i) = self.state.inner().installations.get_mut(&installation) {
            i.repos.remove(&repo_id);
        }
    }

    /// The app is uninstalled: the installation is gone from GitHub's lists.
    pub fn delete_installation(&self, installation: i64) {
        self.state.inner().installations.remove(&installation);
    }

    /// How long new installation tokens live (GitHub: one hour).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.state.token_lifetime.lock().unwrap() = lifetime;
    }

    /// Every issued installation token stops working (401 Bad credentials).
    pub fn revoke_tokens(&self) {
        self.state.inner().tokens.clear();
    }

    /// Recursive tree listings answer `truncated: true` with half their entries.
    pub fn truncate_trees(&self, on: bool) {
        self.state.inner().truncate_trees = on;
    }

    /// The next `times` requests to `route` (a key from [`route`], or `*`) get `fault`.
    pub fn inject(&self, route: &str, fault: Fault, times: u32) {
        self.state.faults.lock().unwrap().push(faults::FaultRule {
            route: route.to_owned(),
            fault,
            remaining: times,
        });
    }

    /// Added to every answer.
    pub fn set_latency(&self, latency: Duration) {
        *self.state.latency.lock().unwrap() = latency;
    }

    /// Requests received for a route key (faulted ones included).
    pub fn requests(&self, route: &str) -> u64 {
        self.state
            .counts
            .lock()
            .unwrap()
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// Changes with every request received (counted before it is answered): a signal for
    /// `support::wait`.
    pub fn arrivals(&self) -> tokio::sync::watch::Receiver<u64> {
        self.state.arrived.subscribe()
    }

    /// Waits until `route` has had `n` requests.
    pub async fn wait_requests(&self, route: &str, n: u64) {
        let mut arrivals = self.arrivals();
        let what = format!("{n} requests to {route}");
        super::wait::until_true(&what, &mut arrivals, async || self.requests(route) >= n).await
    }

    /// The most requests the fake was answering at the same time.
    pub fn max_in_flight(&self) -> u64 {
        self.state.in_flight.lock().unwrap().1
    }

    pub fn total_requests(&self) -> u64 {
        self.state.counts.lock().unwrap().values().sum()
    }

    pub fn reset_counts(&self) {
        self.state.counts.lock().unwrap().clear();
        *self.state.recursive_trees.lock().unwrap() = 0;
    }

    /// Tree requests with `recursive` (counted under [`route::TREE`] too): a whole-tree read.
    pub fn recursive_tree_requests(&self) -> u64 {
        *self.state.recursive_trees.lock().unwrap()
    }

    /// Apps created from now on answer with this `webhook_secret` (None: null), not a fresh one.
    pub fn set_manifest_webhook_secret(&self, secret: Option<&str>) {
        self.state.inner().manifest_webhook_secret = Some(secret.map(str::to_owned));
    }

    /// The manifest last posted to the app-creation page.
    pub fn last_manifest(&self) -> Option<serde_json::Value> {
        self.state.inner().last_manifest.clone()
    }

    /// The `push` delivery GitHub sends for `push` (created, deleted and forced included).
    pub fn push_event(&self, push: &Push) -> WebhookDelivery {
        webhooks::push(&self.state, push)
    }

    /// The `create` (new branch) or `delete` (deleted branch) delivery for `push`.
    pub fn branch_event(&self, push: &Push) -> WebhookDelivery {
        webhooks::branch_event(&self.state, push)
    }

    /// `installation` with `action`: created, deleted, suspend, unsuspend, new_permissions_accepted.
    pub fn installation_event(&self, installation: i64, action: &str) -> WebhookDelivery {
        webhooks::installation(&self.state, installation, action)
    }

    /// `installation_repositories` with `action` added or removed.
    pub fn installation_repositories_event(
        &self,
        installation: i64,
        action: &str,
        repo_ids: &[i64],
    ) -> WebhookDelivery {
        webhooks::installation_repositories(&self.state, installation, action, repo_ids)
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}
