//! Everything hubsync asks of GitHub, as the GitHub App: app JWTs, installation tokens, typed
//! calls for the sync layer, and one retry/rate-limit policy. Only this module knows GitHub's URLs.
mod api;
mod app;
mod app_api;
mod client;
pub mod credentials;
mod error;
mod excerpt;
mod jwt;
pub mod manifest;
pub mod oauth;
pub mod retry;
mod settings;
mod token;
mod types;

use std::sync::{Arc, RwLock};

pub use api::{stream_reader, ByteStream, InstallationClient};
pub use app::GithubApp;
pub use app_api::{AppInstallation, DeliveryPage, HookDelivery, InstallationAccount};
pub use client::{GithubHttp, GithubOptions, RequestCounter};
pub use error::GithubError;
pub use settings::{AppCredentials, GithubConfig};
pub use types::{
    BranchHead, BranchRef, ChangedFile, CompareStatus, Comparison, EntryKind, FileStatus, RepoName,
    Repository, TreeEntry,
};

use crate::secret::WebhookSecret;

/// What the running instance currently acts with: the app (once credentials exist) and the
/// webhook secrets. Shared by the HTTP layer and the workers; the setup flow fills it in without a
/// restart.
#[derive(Clone, Default)]
pub struct GithubSlot(Arc<RwLock<Live>>);

#[derive(Default)]
struct Live {
    app: Option<Arc<GithubApp>>,
    webhook_secrets: Vec<WebhookSecret>,
    /// The app's OAuth client, for Sign in with GitHub.
    oauth: Option<oauth::OAuthClient>,
    /// The app's page on GitHub (`https://github.com/apps/SLUG`), when known: for the link
    /// that installs it.
    app_page: Option<String>,
}

impl GithubSlot {
    pub fn new(app: Option<Arc<GithubApp>>, webhook_secrets: Vec<WebhookSecret>) -> Self {
        Self(Arc::new(RwLock::new(Live {
            app,
            webhook_secrets,
            oauth: None,
            app_page: None,
        })))
    }

    /// The OAuth client for Sign in with GitHub; None until a client id and secret are set.
    pub fn oauth(&self) -> Option<oauth::OAuthClient> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .oauth
            .clone()
    }

    pub(crate) fn set_oauth(&self, client: Option<oauth::OAuthClient>) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).oauth = client;
    }

    /// The GitHub App client; None until credentials are configured.
    pub fn app(&self) -> Option<Arc<GithubApp>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).app.clone()
    }

    pub fn webhook_secrets(&self) -> Vec<WebhookSecret> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .webhook_secrets
            .clone()
    }

    pub(crate) fn app_page(&self) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .app_page
            .clone()
    }

    pub(crate) fn set_app_page(&self, url: String) {
        let url = Some(url).filter(|u| u.starts_with("https://") || u.starts_with("http://"));
        self.0.write().unwrap_or_else(|p| p.into_inner()).app_page = url;
    }

    pub fn set(&self, app: Arc<GithubApp>, webhook_secrets: Vec<WebhookSecret>) {
        let mut live = self.0.write().unwrap_or_else(|p| p.into_inner());
        live.app = Some(app);
        live.webhook_secrets = webhook_secrets;
    }
}

impl std::fmt::Debug for GithubSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GithubSlot({:?})", self.app())
    }
}
