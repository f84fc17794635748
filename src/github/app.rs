//! hubsync acting as the GitHub App: app JWTs, cached installation tokens, and per-installation
//! limits (a concurrency cap, and a pause while the primary quota is spent).
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use http::Method;
use tokio::{sync::Semaphore, time::Instant};

use super::AppCredentials;
use super::{
    client::{Credential, GithubHttp, GithubOptions, Mode, Req, RequestCounter},
    jwt::AppJwt,
    token::{CachedToken, TokenCache},
    GithubError,
};
use crate::secret::Secret;

/// Per-installation limits: a concurrency cap and a pause while the primary quota is spent.
pub(crate) struct Gate {
    pub(crate) permits: Semaphore,
    paused_until: Mutex<Option<Instant>>,
}

impl Gate {
    pub(crate) fn paused_for(&self) -> Duration {
        let until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        until
            .map(|u| u.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    pub(crate) fn pause(&self, d: Duration) {
        let mut until = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        let new = Instant::now() + d;
        if until.is_none_or(|u| u < new) {
            *until = Some(new);
        }
    }
}

/// hubsync acting as the GitHub App: app JWTs, cached installation tokens, per-installation limits.
pub struct GithubApp {
    pub(crate) http: GithubHttp,
    pub(super) jwt: AppJwt,
    pub(crate) tokens: TokenCache,
    gates: Mutex<HashMap<i64, Arc<Gate>>>,
    concurrency: usize,
}

impl std::fmt::Debug for GithubApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GithubApp(app {} at {:?})", self.jwt.app_id(), self.http)
    }
}

#[derive(serde::Deserialize)]
struct AccessToken {
    token: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

impl GithubApp {
    pub fn new(credentials: &AppCredentials, options: GithubOptions) -> Result<Self, GithubError> {
        Ok(Self {
            http: GithubHttp::new(&options)?,
            jwt: AppJwt::new(credentials.app_id, &credentials.private_key)?,
            tokens: TokenCache::new(Duration::from_secs(5 * 60)),
            gates: Mutex::new(HashMap::new()),
            concurrency: options.concurrency.max(1),
        })
    }

    pub fn app_id(&self) -> u64 {
        self.jwt.app_id()
    }

    /// A client for one installation, counting its requests with a fresh counter.
    pub fn installation(self: &Arc<Self>, installation_id: i64) -> super::InstallationClient {
        super::InstallationClient::new(self.clone(), installation_id, RequestCounter::new())
    }

    /// How much longer this installation's calls wait for its spent quota to reset (this
    /// process's view; the status page shows it).
    pub(crate) fn paused_for(&self, installation: i64) -> Duration {
        let gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates
            .get(&installation)
            .map_or(Duration::ZERO, |g| g.paused_for())
    }

    pub(crate) fn gate(&self, installation: i64) -> Arc<Gate> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates
            .entry(installation)
            .or_insert_with(|| {
                Arc::new(Gate {
                    permits: Semaphore::new(self.concurrency),
                    paused_until: Mutex::new(None),
                })
            })
            .clone()
    }

    pub(crate) async fn installation_token(
        &self,
        installation: i64,
    ) -> Result<Secret, GithubError> {
        self.tokens
            .get(installation, || async {
                let req = Req {
                    method: Method::POST,
                    route: "POST /app/installations/{installation_id}/access_tokens",
                    url: self
                        .http
                        .url(&format!("/app/installations/{installation}/access_tokens"))?,
                    accept: "application/vnd.github+json",
                    body: Some("{}".into()),
                };
                let answer = self
                    .http
                    .execute(Credential::App(&self.jwt), &req, None, Mode::Buffer)
                    .await?;
                let token: AccessToken = super::api::decode(req.route, &answer)?;
                tracing::debug!(installation, expires_at = %token.expires_at, "installation token issued");
                Ok(CachedToken {
                    token: Secret::new(token.token),
                    expires_at: token.expires_at,
                })
            })
            .await
    }
}
