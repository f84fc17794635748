//! Typed configuration, read from the environment with command-line flags taking precedence.
//! Every error names the variable it came from and never echoes a secret's value.
use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use url::Url;

use crate::{
    credentials::StoredCredentials,
    secret::Secret,
    sync::{AutoSelect, SyncSettings},
};

#[derive(Debug, thiserror::Error)]
#[error("invalid {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
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

/// Where the data lives. Debug and Display hide any password in the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(Secret),
}

impl DatabaseUrl {
    pub const DEFAULT: &'static str = "sqlite://hubsync.db";

    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if raw.starts_with("sqlite:") {
            // The embedded default must work on a bare machine: create the file when absent.
            let url = if raw.contains("mode=") {
                raw.to_owned()
            } else if raw.contains('?') {
                format!("{raw}&mode=rwc")
            } else {
                format!("{raw}?mode=rwc")
            };
            Ok(Self::Sqlite(url))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw)
                .map_err(|e| invalid("DATABASE_URL", format!("not a valid URL ({e})")))?;
            Ok(Self::Postgres(Secret::new(raw)))
        } else {
            Err(invalid(
                "DATABASE_URL",
                "expected sqlite://PATH or postgres://USER@HOST/DB",
            ))
        }
    }

    /// The URL to connect with, password included.
    pub fn expose(&self) -> &str {
        match self {
            Self::Sqlite(u) => u,
            Self::Postgres(s) => s.expose(),
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(u) => f.write_str(u),
            Self::Postgres(s) => match Url::parse(s.expose()) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("redacted"));
                    }
                    f.write_str(u.as_str())
                }
                Err(_) => f.write_str("postgres://[unparsable]"),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

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
    pub webhook_secrets: Vec<Secret>,
    pub api_url: Url,
    pub web_url: Url,
    /// Requests in flight per installation (HUBSYNC_GITHUB_CONCURRENCY).
    pub concurrency: usize,
    /// The app's OAuth client, from the manifest flow (not needed for syncing).
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
}

/// How webhook deliveries are received and processed.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Largest body accepted; GitHub caps payloads at 25 MB.
    pub max_body_bytes: usize,
    /// Off: deliveries are stored but not processed (they are once a process with it on runs).
    pub process: bool,
    /// Attempts before a delivery that keeps failing is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles with each attempt.
    pub retry_delay: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 25 * 1024 * 1024,
            process: true,
            max_attempts: 5,
            retry_delay: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: DatabaseUrl,
    pub github: GithubConfig,
    pub webhook: WebhookConfig,
    pub admin_token: Option<Secret>,
    pub log_format: LogFormat,
    /// Where users and GitHub reach this instance (manifest URLs, webhook URL); None means
    /// `http://` + the bound address.
    pub public_url: Option<Url>,
    /// Where the setup flow stores the app's credentials; read at startup.
    pub credentials_path: PathBuf,
    pub sync: SyncSettings,
    /// How often an idle event stream gets a keep-alive comment (`HUBSYNC_SSE_KEEPALIVE_SECS`).
    pub sse_keep_alive: Duration,
    /// How long progress events are kept for replay (`HUBSYNC_EVENT_RETENTION_DAYS`).
    pub event_retention: Duration,
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
    pub fn from_env(overrides: &Overrides) -> Result<Self, ConfigError> {
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
            DatabaseUrl::parse(database_url.as_deref().unwrap_or(DatabaseUrl::DEFAULT))?;

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
            webhook_secrets: var("GITHUB_WEBHOOK_SECRET")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Secret::new)
                        .collect()
                })
                .unwrap_or_default(),
            api_url: url_var(&var, "GITHUB_API_URL", "https://api.github.com")?,
            web_url: url_var(&var, "GITHUB_URL", "https://github.com")?,
            concurrency,
            client_id: var("GITHUB_CLIENT_ID"),
            client_secret: var("GITHUB_CLIENT_SECRET").map(Secret::new),
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
        };

        Ok(Self {
            bind,
            database_url,
            github,
            webhook,
            admin_token: var("HUBSYNC_ADMIN_TOKEN").map(Secret::new),
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
            event_retention: Duration::from_secs_f64(
                number(
                    &var,
                    "HUBSYNC_EVENT_RETENTION_DAYS",
                    7.0,
                    |d: &f64| d.is_finite() && *d > 0.0,
                    "a positive number of days",
                )? * 86_400.0,
            ),
            allow_data_loss: false,
        })
    }
}

fn number<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    valid: impl Fn(&T) -> bool,
    expected: &str,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .ok()
            .filter(valid)
            .ok_or_else(|| invalid(name, format!("{raw:?} is not {expected}"))),
    }
}

fn sync_settings(var: &impl Fn(&str) -> Option<String>) -> Result<SyncSettings, ConfigError> {
    let d = SyncSettings::default();
    let secs = |name, default: Duration| {
        number(
            var,
            name,
            default.as_secs_f64(),
            |s: &f64| s.is_finite() && *s >= 0.0,
            "a number of seconds",
        )
        .map(Duration::from_secs_f64)
    };
    let auto_select = match var("HUBSYNC_AUTO_SELECT").as_deref().map(str::trim) {
        None | Some("default") => AutoSelect::DefaultBranch,
        Some("none") => AutoSelect::Nothing,
        Some(other) => {
            return Err(invalid(
                "HUBSYNC_AUTO_SELECT",
                format!("{other:?} is not default or none"),
            ))
        }
    };
    let lease = secs("HUBSYNC_SYNC_LEASE_SECS", d.lease)?;
    if lease < Duration::from_millis(300) {
        return Err(invalid(
            "HUBSYNC_SYNC_LEASE_SECS",
            "must be at least 0.3 seconds",
        ));
    }
    let debounce = number(
        var,
        "HUBSYNC_SYNC_DEBOUNCE_MS",
        d.debounce.as_millis() as u64,
        |_| true,
        "a number of milliseconds",
    )?;
    Ok(SyncSettings {
        debounce: Duration::from_millis(debounce),
        workers: number(
            var,
            "HUBSYNC_SYNC_WORKERS",
            d.workers,
            |n| *n <= 256,
            "a number of workers (0 to 256)",
        )?,
        lease,
        retry_base: secs("HUBSYNC_SYNC_RETRY_SECS", d.retry_base)?,
        max_file_size: number(
            var,
            "HUBSYNC_MAX_FILE_SIZE",
            d.max_file_size,
            |_| true,
            "a size in bytes",
        )?,
        tarball_threshold: number(
            var,
            "HUBSYNC_TARBALL_THRESHOLD",
            d.tarball_threshold,
            |_| true,
            "a number of files",
        )?,
        reconcile_interval: secs("HUBSYNC_RECONCILE_SECS", d.reconcile_interval)?,
        auto_select,
        ..d
    })
}

/// `hubsync-credentials.json` next to a SQLite database file, else in the working directory.
fn default_credentials_path(db: &DatabaseUrl) -> PathBuf {
    const NAME: &str = "hubsync-credentials.json";
    if let DatabaseUrl::Sqlite(url) = db {
        let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        if !path.is_empty() && !path.starts_with(':') {
            if let Some(dir) = std::path::Path::new(path).parent() {
                return dir.join(NAME);
            }
        }
    }
    PathBuf::from(NAME)
}

/// A positive whole number, or the default when unset.
fn number_var<T: std::str::FromStr + PartialOrd + Default>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<T>() {
            Ok(n) if n > T::default() => Ok(n),
            _ => Err(invalid(
                name,
                format!("{raw:?} is not a positive whole number"),
            )),
        },
    }
}

fn url_var(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<Url, ConfigError> {
    let raw = var(name).unwrap_or_else(|| default.to_owned());
    let url =
        Url::parse(raw.trim()).map_err(|e| invalid(name, format!("{raw:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(name, "must be an http or https URL"));
    }
    Ok(url)
}

fn app_credentials(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<AppCredentials>, ConfigError> {
    let app_id = var("GITHUB_APP_ID")
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| invalid("GITHUB_APP_ID", format!("{v:?} is not a number")))
        })
        .transpose()?;
    let key = match (var("GITHUB_PRIVATE_KEY"), var("GITHUB_PRIVATE_KEY_PATH")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "GITHUB_PRIVATE_KEY",
                "set GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH, not both",
            ))
        }
        // Env files often carry the PEM with literal \n escapes.
        (Some(pem), None) => Some(("GITHUB_PRIVATE_KEY", pem.replace("\\n", "\n"))),
        (None, Some(path)) => {
            let path = PathBuf::from(path.trim());
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "GITHUB_PRIVATE_KEY_PATH",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            Some(("GITHUB_PRIVATE_KEY_PATH", pem))
        }
        (None, None) => None,
    };
    if let Some((var_name, pem)) = &key {
        jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| invalid(var_name, "not an RSA private key in PEM format"))?;
    }
    match (app_id, key) {
        (Some(app_id), Some((_, pem))) => Ok(Some(AppCredentials {
            app_id,
            private_key: Secret::new(pem),
        })),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(invalid(
            "GITHUB_APP_ID",
            "is required when a private key is set",
        )),
        (Some(_), None) => Err(invalid(
            "GITHUB_PRIVATE_KEY",
            "or GITHUB_PRIVATE_KEY_PATH is required when GITHUB_APP_ID is set",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(&Overrides::default(), |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work_on_a_bare_machine() {
        let c = load(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url.expose(), "sqlite://hubsync.db?mode=rwc");
        assert!(c.github.app.is_none());
        assert!(c.github.webhook_secrets.is_empty());
        assert_eq!(c.github.api_url.as_str(), "https://api.github.com/");
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.webhook.max_body_bytes, 26_214_400);
        assert!(c.webhook.process);
    }

    #[test]
    fn flags_override_env() {
        let o = Overrides {
            bind: Some("0.0.0.0:9000".into()),
            database_url: None,
        };
        let c = Config::from_lookup(&o, |k| (k == "HUBSYNC_BIND").then(|| "127.0.0.1:1".into()))
            .unwrap();
        assert_eq!(c.bind.to_string(), "0.0.0.0:9000");
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, value) in [
            ("HUBSYNC_BIND", "nope"),
            ("DATABASE_URL", "mysql://x"),
            ("GITHUB_APP_ID", "abc"),
            ("GITHUB_API_URL", "ftp://x"),
            ("HUBSYNC_LOG_FORMAT", "xml"),
            ("HUBSYNC_GITHUB_CONCURRENCY", "lots"),
            ("HUBSYNC_PUBLIC_URL", "not a url"),
            ("GITHUB_PRIVATE_KEY_PATH", "/does/not/exist.pem"),
            ("HUBSYNC_WEBHOOK_MAX_BYTES", "0"),
            ("HUBSYNC_WEBHOOK_PROCESSING", "maybe"),
            ("HUBSYNC_WEBHOOK_MAX_ATTEMPTS", "-1"),
            ("HUBSYNC_WEBHOOK_RETRY_MS", "soon"),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{err}");
        }
    }

    #[test]
    fn a_bad_private_key_is_rejected_without_echoing_it() {
        let err = load(&[
            ("GITHUB_APP_ID", "1"),
            ("GITHUB_PRIVATE_KEY", "TOPSECRETVALUE"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "GITHUB_PRIVATE_KEY");
        assert!(!err.to_string().contains("TOPSECRETVALUE"));
    }

    #[test]
    fn webhook_secrets_are_a_list_and_never_print() {
        let c = load(&[("GITHUB_WEBHOOK_SECRET", "old-secret, new-secret")]).unwrap();
        assert_eq!(c.github.webhook_secrets.len(), 2);
        assert_eq!(c.github.webhook_secrets[1].expose(), "new-secret");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("old-secret") && !debug.contains("new-secret"),
            "{debug}"
        );
    }

    #[test]
    fn database_password_never_prints() {
        let c = load(&[("DATABASE_URL", "postgres://hub:s3cr3tpw@db:5432/hubsync")]).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3tpw"));
        assert!(!c.database_url.to_string().contains("s3cr3tpw"));
        assert_eq!(c.database_url.engine(), "postgres");
    }

    #[test]
    fn the_credentials_file_fills_in_what_env_leaves_unset() {
        let dir = std::env::temp_dir().join(format!("hubsync-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("creds.json");
        let pem = include_str!("../fixtures/test-app-key.pem");
        StoredCredentials {
            app_id: 99,
            private_key: Secret::new(pem),
            webhook_secret: Secret::new("from-file"),
            client_id: "Iv1.x".into(),
            client_secret: Secret::new("cs"),
            html_url: String::new(),
        }
        .save(&path)
        .unwrap();
        let p = path.to_str().unwrap();
        let c = load(&[("HUBSYNC_CREDENTIALS_PATH", p)]).unwrap();
        assert_eq!(c.github.app.as_ref().unwrap().app_id, 99);
        assert_eq!(c.github.webhook_secrets[0].expose(), "from-file");
        assert_eq!(c.github.client_id.as_deref(), Some("Iv1.x"));
        // The environment wins, and the app identity is taken whole from one place.
        let c = load(&[
            ("HUBSYNC_CREDENTIALS_PATH", p),
            ("GITHUB_WEBHOOK_SECRET", "from-env"),
            ("GITHUB_APP_ID", "5"),
            ("GITHUB_PRIVATE_KEY", pem),
        ])
        .unwrap();
        assert_eq!(c.github.app.as_ref().unwrap().app_id, 5);
        assert_eq!(c.github.webhook_secrets[0].expose(), "from-env");
        let err = load(&[("HUBSYNC_CREDENTIALS_PATH", p), ("GITHUB_APP_ID", "5")]).unwrap_err();
        assert_eq!(err.var, "GITHUB_PRIVATE_KEY");
        std::fs::write(&path, "{not json").unwrap();
        let err = load(&[("HUBSYNC_CREDENTIALS_PATH", p)]).unwrap_err();
        assert_eq!(err.var, "HUBSYNC_CREDENTIALS_PATH");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn credentials_default_next_to_the_sqlite_database() {
        let c = load(&[("DATABASE_URL", "sqlite:///var/lib/hubsync/data.db")]).unwrap();
        assert_eq!(
            c.credentials_path,
            PathBuf::from("/var/lib/hubsync/hubsync-credentials.json")
        );
        assert_eq!(c.github.concurrency, 8);
        assert!(load(&[("HUBSYNC_GITHUB_CONCURRENCY", "0")]).is_err());
    }
}
