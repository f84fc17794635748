//! What hubsync needs to reach GitHub, read from the environment by `config`.
use url::Url;

use crate::secret::{Secret, WebhookSecret};

/// What hubsync needs to act as the GitHub App: its id and private key.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app_id: u64,
    pub private_key: Secret,
}

#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// None until the app is created and configured: webhooks and syncs stay off.
    pub app: Option<AppCredentials>,
    /// Every secret is accepted, so a secret can be rotated without dropping deliveries.
    pub webhook_secrets: Vec<WebhookSecret>,
    pub api_url: Url,
    pub web_url: Url,
    /// Requests in flight per installation (HUBSYNC_GITHUB_CONCURRENCY).
    pub concurrency: usize,
    /// The app's OAuth client, from the manifest flow (not needed for syncing).
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// The app's page on GitHub, from the credentials file (for the install link).
    pub app_page: Option<String>,
}
