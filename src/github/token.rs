//! Installation access tokens, cached per installation.
//!
//! A token is reused until it is within `margin` of expiry (at least 5 minutes), then replaced.
//! Each installation has its own async mutex, so under concurrent demand exactly one request for
//! a new token is in flight and the others wait for its result. Tokens are opaque: never parsed,
//! never checked by length (GitHub is changing their format).
use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};

use super::GithubError;
use crate::secret::Secret;

#[derive(Clone)]
pub(crate) struct CachedToken {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
}

type Slot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

pub(crate) struct TokenCache {
    slots: Mutex<HashMap<i64, Slot>>,
    margin: Duration,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            margin: margin.max(Duration::from_secs(5 * 60)),
        }
    }

    fn slot(&self, installation: i64) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(installation).or_default().clone()
    }

    /// The cached token if it has more than `margin` left, else the one `fetch` returns.
    pub async fn get<F, Fut>(&self, installation: i64, fetch: F) -> Result<Secret, GithubError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedToken, GithubError>>,
    {
        let slot = self.slot(installation);
        let mut cached = slot.lock().await;
        let margin = chrono::Duration::from_std(self.margin).unwrap_or(chrono::Duration::MAX);
        if let Some(t) = cached.as_ref() {
            if t.expires_at - Utc::now() > margin {
                return Ok(t.token.clone());
            }
        }
        let fresh = fetch().await?;
        *cached = Some(fresh.clone());
        Ok(fresh.token)
    }

    /// Forgets `token` after GitHub refused it (unless another caller already replaced it).
    pub(crate) async fn invalidate(&self, installation: i64, token: &Secret) {
        let slot = self.slot(installation);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| &t.token == token) {
            *cached = None;
        }
    }
}
