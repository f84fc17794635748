//! The credentials file the setup flow writes (mode 0600) and startup reads: what GitHub returned
//! when it created the app. Environment variables override it.
use std::{
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::secret::{Secret, WebhookSecret};

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// The file's contents. Debug never shows a secret.
#[derive(Debug, Clone)]
pub struct StoredCredentials {
    pub app_id: u64,
    pub private_key: Secret,
    pub webhook_secret: WebhookSecret,
    pub client_id: String,
    pub client_secret: Secret,
    /// The app's page on GitHub, for links.
    pub html_url: String,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    app_id: u64,
    private_key: String,
    webhook_secret: String,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    html_url: String,
}

impl StoredCredentials {
    /// None when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, CredentialsError> {
        let read_err = |reason: String| CredentialsError::Read {
            path: path.to_owned(),
            reason,
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_err(e.to_string())),
        };
        // serde's message names the field, never its value.
        let disk: OnDisk = serde_json::from_slice(&bytes)
            .map_err(|e| read_err(format!("not a hubsync credentials file ({e})")))?;
        // An empty or short secret would make webhook signatures guessable.
        let webhook_secret = WebhookSecret::parse(disk.webhook_secret)
            .map_err(|e| read_err(format!("its webhook_secret is unusable: {e}")))?;
        Ok(Some(Self {
            app_id: disk.app_id,
            private_key: Secret::new(disk.private_key),
            webhook_secret,
            client_id: disk.client_id,
            client_secret: Secret::new(disk.client_secret),
            html_url: disk.html_url,
        }))
    }

    /// Writes atomically (temp file, fsync, rename), readable by this user only. A missing
    /// directory is created for this user only (0700); an existing one is left as it is.
    pub(crate) fn save(&self, path: &Path) -> Result<(), CredentialsError> {
        let write_err = |reason: String| CredentialsError::Write {
            path: path.to_owned(),
            reason,
        };
        let disk = OnDisk {
            app_id: self.app_id,
            private_key: self.private_key.expose().to_owned(),
            webhook_secret: self.webhook_secret.expose().to_owned(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.expose().to_owned(),
            html_url: self.html_url.clone(),
        };
        let json = serde_json::to_vec_pretty(&disk).map_err(|e| write_err(e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_files::create_dir(dir).map_err(|e| write_err(e.to_string()))?;
        }
        let tmp = path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(|e| write_err(e.to_string()))?;
        #[cfg(unix)]
        {
            // An older temp file keeps its mode on open: tighten it explicitly.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| write_err(e.to_string()))?;
        }
        file.write_all(&json)
            .and_then(|_| file.sync_all())
            .map_err(|e| write_err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| write_err(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_mode_0600_and_never_prints_secrets() {
        let dir = tempfile_dir();
        let path = dir.join("creds.json");
        let creds = StoredCredentials {
            app_id: 7,
            private_key: Secret::new("PEMDATA"),
            webhook_secret: WebhookSecret::parse("HOOKSECRET-of-twenty-bytes").unwrap(),
            client_id: "Iv1.abc".into(),
            client_secret: Secret::new("CLIENTSECRET"),
            html_url: "https://github.com/apps/x".into(),
        };
        creds.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = StoredCredentials::load(&path).unwrap().unwrap();
        assert_eq!(back.app_id, 7);
        assert_eq!(back.private_key.expose(), "PEMDATA");
        let debug = format!("{back:?}");
        assert!(!debug.contains("PEMDATA") && !debug.contains("HOOKSECRET"));
        assert!(StoredCredentials::load(&dir.join("absent.json"))
            .unwrap()
            .is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hubsync-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
