//! Reading one variable into a typed value, with an error that names the variable.
use std::{path::PathBuf, time::Duration};

use url::Url;

use super::{invalid, AppCredentials, ConfigError, DatabaseUrl, HttpLimits, TrustedProxies};
use crate::{
    secret::{self, Secret, WebhookSecret},
    sync::{AutoSelect, SyncSettings},
};

/// `GITHUB_WEBHOOK_SECRET`: one secret, or several separated by commas (rotation). Each must be
/// long enough; the error says which entry is not, never what it is.
pub(super) fn webhook_secrets(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<WebhookSecret>, ConfigError> {
    const NAME: &str = "GITHUB_WEBHOOK_SECRET";
    let Some(raw) = var(NAME) else {
        return Ok(Vec::new());
    };
    let entries: Vec<&str> = raw.split(',').map(str::trim).collect();
    let n = entries.len();
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            WebhookSecret::parse(*entry).map_err(|e| {
                let which = if n == 1 {
                    "the secret".to_owned()
                } else {
                    format!("entry {} of {n} (comma-separated)", i + 1)
                };
                invalid(NAME, format!("{which} is {} bytes long; at least {} are needed (e.g. `openssl rand -hex 32`)", e.len, e.min))
            })
        })
        .collect()
}

/// `HUBSYNC_ADMIN_TOKEN`: unset closes the pages and the API; set, it must be long.
pub(super) fn admin_token(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    long_token(var, "HUBSYNC_ADMIN_TOKEN")
}

/// A bearer token variable (`HUBSYNC_ADMIN_TOKEN`, `HUBSYNC_METRICS_TOKEN`): set, it must be long.
pub(super) fn long_token(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    var(name)
        .map(|raw| {
            secret::admin_token(raw.trim()).map_err(|e| {
                invalid(
                    name,
                    format!(
                        "is {} characters long; at least {} are needed (e.g. `openssl rand -hex 32`)",
                        e.len, e.min
                    ),
                )
            })
        })
        .transpose()
}

pub(super) fn number<T: std::str::FromStr>(
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

pub(super) fn sync_settings(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<SyncSettings, ConfigError> {
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
    // Each pass asks GitHub about every selected branch: more often than every second is a
    // typo, not a setting.
    let reconcile_interval = secs("HUBSYNC_RECONCILE_SECS", d.reconcile_interval)?;
    if !reconcile_interval.is_zero() && reconcile_interval < Duration::from_secs(1) {
        return Err(invalid(
            "HUBSYNC_RECONCILE_SECS",
            "must be 0 (off) or at least 1 second",
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
        reconcile_interval,
        auto_select,
        compare: match var("HUBSYNC_SYNC_COMPARE").as_deref().map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(invalid(
                    "HUBSYNC_SYNC_COMPARE",
                    format!("{other:?} is not on or off"),
                ))
            }
        },
        ..d
    })
}

/// `HUBSYNC_REDELIVERY_SECS`: 0 (off) or at least a second; each pass reads GitHub's
/// delivery log, so more often is a typo.
pub(super) fn redelivery_interval(
    var: &impl Fn(&str) -> Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    const NAME: &str = "HUBSYNC_REDELIVERY_SECS";
    let secs = number(
        var,
        NAME,
        default.as_secs_f64(),
        |s: &f64| s.is_finite() && (*s == 0.0 || *s >= 1.0),
        "0 (off) or a number of seconds of at least 1",
    )?;
    Ok(Duration::from_secs_f64(secs))
}

/// `hubsync-credentials.json` next to a SQLite database file, else in the working directory.
pub(super) fn default_credentials_path(db: &DatabaseUrl) -> PathBuf {
    const NAME: &str = "hubsync-credentials.json";
    match db
        .sqlite_path()
        .as_deref()
        .and_then(std::path::Path::parent)
    {
        Some(dir) => dir.join(NAME),
        None => PathBuf::from(NAME),
    }
}

/// A positive whole number, or the default when unset.
pub(super) fn number_var<T: std::str::FromStr + PartialOrd + Default>(
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

pub(super) fn url_var(
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

pub(super) fn app_credentials(
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

pub(super) fn http_limits(
    var: &impl Fn(&str) -> Option<String>,
    max_webhook_body: usize,
) -> Result<HttpLimits, ConfigError> {
    let d = HttpLimits::default();
    let body_memory = number_var(var, "HUBSYNC_BODY_MEMORY_BYTES", d.body_memory)?;
    let limits = HttpLimits { body_memory, ..d };
    let room = if max_webhook_body <= HttpLimits::SMALL_BODY {
        body_memory
    } else {
        limits.large_body_memory()
    };
    if room < max_webhook_body {
        return Err(invalid(
            "HUBSYNC_BODY_MEMORY_BYTES",
            format!(
                "{body_memory} leaves {room} bytes for a large body, less than \
                 HUBSYNC_WEBHOOK_MAX_BYTES ({max_webhook_body}): the largest delivery could never \
                 be accepted (a quarter is kept for bodies under 256 KiB)"
            ),
        ));
    }
    Ok(HttpLimits {
        body_timeout: Duration::from_secs_f64(number(
            var,
            "HUBSYNC_BODY_TIMEOUT_SECS",
            d.body_timeout.as_secs_f64(),
            |s: &f64| s.is_finite() && *s >= 0.1 && *s <= 3600.0,
            "a number of seconds from 0.1 to 3600",
        )?),
        body_memory,
        max_connections: number_var(var, "HUBSYNC_MAX_CONNECTIONS", d.max_connections)?,
        trusted_proxies: match var("HUBSYNC_TRUSTED_PROXIES") {
            Some(raw) => TrustedProxies::parse(&raw)
                .map_err(|reason| invalid("HUBSYNC_TRUSTED_PROXIES", reason))?,
            None => TrustedProxies::default(),
        },
        ..d
    })
}
