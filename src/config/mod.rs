//! Typed configuration, read from the environment with command-line flags taking precedence.
//! Every error names the variable it came from and never echoes a secret's value.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

use url::Url;

mod outbox;
mod proxies;
#[cfg(test)]
mod tests;
mod vars;

pub use proxies::{canonical_ip, TrustedProxies};

// Each layer owns its settings; config reads them all from the environment. Re-exported so that
// `config::X` keeps naming every setting in one place.
pub use crate::{
    github::{AppCredentials, GithubConfig},
    outbox::OutboxSettings,
    store::DatabaseUrl,
    sync::SyncSettings,
    webhook::WebhookConfig,
};
use vars::{
    admin_token, app_credentials, default_credentials_path, http_limits, long_token, number,
    number_var, redelivery_interval, sync_settings, url_var, webhook_secrets,
};

use crate::{github::credentials::StoredCredentials, secret::Secret};

#[derive(Debug, thiserror::Error)]
#[error("invalid {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

pub(crate) fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Bounds on connections and request bodies, so that slow or hostile clients cannot hold the
/// server's memory or connections (src/http/limits.rs, src/http/server.rs).
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// A request body must arrive within this (`HUBSYNC_BODY_TIMEOUT_SECS`), else 408.
    pub body_timeout: Duration,
    /// Request body bytes held in memory at once across all connections
    /// (`HUBSYNC_BODY_MEMORY_BYTES`); past it, 503 with Retry-After.
    pub body_memory: usize,
    /// Open connections at most (`HUBSYNC_MAX_CONNECTIONS`); past it, new ones wait in the backlog.
    pub max_connections: usize,
    /// A request's line and headers must arrive within this, counted from their first byte.
    pub head_timeout: Duration,
    /// An idle keep-alive connection is closed after this.
    pub keep_alive: Duration,
    /// Proxies whose `X-Forwarded-For` names the client (`HUBSYNC_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
}

impl HttpLimits {
    /// The first this many bytes of each body may use all of `body_memory`; bytes past them only
    /// `large_body_memory`, so that a few large senders cannot hold every byte and starve the
    /// ordinary deliveries (GitHub's are mostly well under 100 KB).
    pub(crate) const SMALL_BODY: usize = 256 * 1024;

    pub(crate) fn large_body_memory(&self) -> usize {
        self.body_memory - self.body_memory / 4
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            body_timeout: Duration::from_secs(10),
            body_memory: 64 * 1024 * 1024,
            max_connections: 10_000,
            head_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(5),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// `GET /metrics`: on the main listener behind a bearer token, and/or unauthenticated on a
/// listener of its own (for a network only the monitoring system reaches).
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// `HUBSYNC_METRICS_TOKEN`; unset, the main listener answers 404 at /metrics.
    pub token: Option<Secret>,
    /// `HUBSYNC_METRICS_BIND`: a second listener serving /metrics alone, without a token.
    pub bind: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: DatabaseUrl,
    pub github: GithubConfig,
    pub webhook: WebhookConfig,
    pub http: HttpLimits,
    pub admin_token: Option<Secret>,
    pub metrics: MetricsConfig,
    pub log_format: LogFormat,
    /// Where users and GitHub reach this instance (manifest URLs, webhook URL); None means
    /// `http://` + the bound address.
    pub public_url: Option<Url>,
    /// Where the setup flow stores the app's credentials; read at startup.
    pub credentials_path: PathBuf,
    pub sync: SyncSettings,
    /// How often an idle event stream gets a keep-alive comment (`HUBSYNC_SSE_KEEPALIVE_SECS`).
    pub sse_keep_alive: Duration,
    /// Progress events the hub keeps for subscribers that have not taken them yet
    /// (`HUBSYNC_SSE_BUFFER`): a burst of thousands goes out from memory (pointers; the events
    /// are shared by every subscriber); one that falls further behind catches up from the table.
    pub sse_buffer: usize,
    /// How long progress events are kept for replay (`HUBSYNC_EVENT_RETENTION_DAYS`).
    pub event_retention: Duration,
    /// How long the change feed keeps its rows (`HUBSYNC_CHANGES_RETENTION_DAYS`).
    pub changes_retention: Duration,
    /// Outgoing webhooks (`HUBSYNC_OUTBOX_*`).
    pub outbox: OutboxSettings,
    /// Set only by the `--allow-data-loss` flag, never from the environment: a variable left in
    /// a deployment would silently consent to every future destructive migration.
    pub allow_data_loss: bool,
}

/// Values given on the command line; each wins over its environment variable.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<String>,
    pub database_url: Option<String>,
}

impl Config {
    pub(crate) fn from_env(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::from_lookup(overrides, |name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (tests pass a map).
    pub fn from_lookup(
        overrides: &Overrides,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        // An empty variable counts as unset, as shells and .env files produce them.
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let bind = overrides.bind.clone().or_else(|| var("HUBSYNC_BIND"));
        let bind = match bind {
            Some(b) => b.trim().parse().map_err(|_| {
                invalid(
                    "HUBSYNC_BIND",
                    format!("{b:?} is not an address like 127.0.0.1:3000"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };

        let database_url = overrides
            .database_url
            .clone()
            .or_else(|| var("DATABASE_URL"));
        let database_url =
            DatabaseUrl::parse(database_url.as_deref().unwrap_or(DatabaseUrl::DEFAULT))
                .map_err(|reason| invalid("DATABASE_URL", reason))?;

        let credentials_path = var("HUBSYNC_CREDENTIALS_PATH")
            .map(|p| PathBuf::from(p.trim()))
            .unwrap_or_else(|| default_credentials_path(&database_url));
        let stored = StoredCredentials::load(&credentials_path)
            .map_err(|e| invalid("HUBSYNC_CREDENTIALS_PATH", e.to_string()))?;
        // The file fills in what the environment leaves unset, one unit at a time: an app id
        // from one place and a key from another would sign JWTs GitHub rejects.
        let env_has_app = [
            "GITHUB_APP_ID",
            "GITHUB_PRIVATE_KEY",
            "GITHUB_PRIVATE_KEY_PATH",
        ]
        .iter()
        .any(|n| var(n).is_some());
        let env_has_client =
            var("GITHUB_CLIENT_ID").is_some() || var("GITHUB_CLIENT_SECRET").is_some();
        let from_file = |name: &str| -> Option<String> {
            let s = stored.as_ref()?;
            match name {
                "GITHUB_APP_ID" if !env_has_app => Some(s.app_id.to_string()),
                "GITHUB_PRIVATE_KEY" if !env_has_app => Some(s.private_key.expose().to_owned()),
                "GITHUB_WEBHOOK_SECRET" => Some(s.webhook_secret.expose().to_owned()),
                "GITHUB_CLIENT_ID" if !env_has_client => Some(s.client_id.clone()),
                "GITHUB_CLIENT_SECRET" if !env_has_client => {
                    Some(s.client_secret.expose().to_owned())
                }
                _ => None,
            }
            .filter(|v| !v.is_empty())
        };
        let var = |name: &str| var(name).or_else(|| from_file(name));

        let concurrency = match var("HUBSYNC_GITHUB_CONCURRENCY") {
            None => 8,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "HUBSYNC_GITHUB_CONCURRENCY",
                        format!("{v:?} is not a number from 1 to 100"),
                    )
                })?,
        };

        let github = GithubConfig {
            app: app_credentials(&var)?,
            webhook_secrets: webhook_secrets(&var)?,
            api_url: url_var(&var, "GITHUB_API_URL", "https://api.github.com")?,
            web_url: url_var(&var, "GITHUB_URL", "https://github.com")?,
            concurrency,
            client_id: var("GITHUB_CLIENT_ID"),
            client_secret: var("GITHUB_CLIENT_SECRET").map(Secret::new),
            app_page: stored
                .as_ref()
                .filter(|s| !env_has_app && !s.html_url.is_empty())
                .map(|s| s.html_url.clone()),
        };
        let public_url = match var("HUBSYNC_PUBLIC_URL") {
            Some(_) => Some(url_var(&var, "HUBSYNC_PUBLIC_URL", "")?),
            None => None,
        };

        let log_format = match var("HUBSYNC_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "HUBSYNC_LOG_FORMAT",
                    format!("{other:?} is not text or json"),
                ))
            }
        };

        let defaults = WebhookConfig::default();
        let webhook = WebhookConfig {
            max_body_bytes: number_var(&var, "HUBSYNC_WEBHOOK_MAX_BYTES", defaults.max_body_bytes)?,
            process: match var("HUBSYNC_WEBHOOK_PROCESSING").as_deref().map(str::trim) {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => {
                    return Err(invalid(
                        "HUBSYNC_WEBHOOK_PROCESSING",
                        format!("{other:?} is not on or off"),
                    ))
                }
            },
            max_attempts: number_var(&var, "HUBSYNC_WEBHOOK_MAX_ATTEMPTS", defaults.max_attempts)?,
            retry_delay: Duration::from_millis(number_var(
                &var,
                "HUBSYNC_WEBHOOK_RETRY_MS",
                defaults.retry_delay.as_millis() as u64,
            )?),
            redelivery_interval: redelivery_interval(&var, defaults.redelivery_interval)?,
        };

        let http = http_limits(&var, webhook.max_body_bytes)?;

        Ok(Self {
            bind,
            database_url,
            github,
            webhook,
            http,
            admin_token: admin_token(&var)?,
            metrics: MetricsConfig {
                token: long_token(&var, "HUBSYNC_METRICS_TOKEN")?,
                bind: match var("HUBSYNC_METRICS_BIND") {
                    None => None,
                    Some(b) => Some(b.trim().parse().map_err(|_| {
                        invalid(
                            "HUBSYNC_METRICS_BIND",
                            format!("{b:?} is not an address like 127.0.0.1:9100"),
                        )
                    })?),
                },
            },
            log_format,
            public_url,
            credentials_path,
            sync: sync_settings(&var)?,
            sse_keep_alive: Duration::from_secs_f64(number(
                &var,
                "HUBSYNC_SSE_KEEPALIVE_SECS",
                15.0,
                |s: &f64| s.is_finite() && *s >= 0.1,
                "a number of seconds (at least 0.1)",
            )?),
            sse_buffer: number(
                &var,
                "HUBSYNC_SSE_BUFFER",
                16_384,
                |n: &usize| (16..=1 << 20).contains(n),
                "a number of events from 16 to 1048576",
            )?,
            event_retention: Duration::from_secs_f64(
                number(
                    &var,
                    "HUBSYNC_EVENT_RETENTION_DAYS",
                    7.0,
                    |d: &f64| d.is_finite() && *d > 0.0,
                    "a positive number of days",
                )? * 86_400.0,
            ),
            changes_retention: Duration::from_secs_f64(
                number(
                    &var,
                    "HUBSYNC_CHANGES_RETENTION_DAYS",
                    30.0,
                    |d: &f64| d.is_finite() && *d > 0.0 && *d <= 36_500.0,
                    "a positive number of days (at most 36500)",
                )? * 86_400.0,
            ),
            outbox: outbox::outbox_settings(&var)?,
            allow_data_loss: false,
        })
    }
}
