//! The database URL: which engine, and a Display that never shows the password.
use std::fmt;

use url::Url;

use crate::secret::Secret;

/// Where the data lives. Debug and Display hide any password in the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(Secret),
}

impl DatabaseUrl {
    pub const DEFAULT: &'static str = "sqlite://hubsync.db";

    /// The error is the reason only; config names the variable (`DATABASE_URL`).
    pub fn parse(raw: &str) -> Result<Self, String> {
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
            Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
            Ok(Self::Postgres(Secret::new(raw)))
        } else {
            Err("expected sqlite://PATH or postgres://USER@HOST/DB".to_owned())
        }
    }

    /// The URL to connect with, password included.
    pub fn expose(&self) -> &str {
        match self {
            Self::Sqlite(u) => u,
            Self::Postgres(s) => s.expose(),
        }
    }

    /// The SQLite database file, unless the database is in memory (or not SQLite).
    pub(crate) fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        let Self::Sqlite(url) = self else {
            return None;
        };
        let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let in_memory = path.is_empty() || path.starts_with(':') || query.contains("mode=memory");
        (!in_memory).then(|| std::path::PathBuf::from(path))
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
