//! Calls made as the app itself (app JWT): its installations, and its webhook's delivery log
//! (`GET /app/hook/deliveries`, `POST /app/hook/deliveries/{delivery_id}/attempts`). These are
//! for background passes, so a rate limit answers `RateLimited` at once instead of waiting.
use chrono::{DateTime, Utc};
use http::Method;
use serde::Deserialize;
use url::Url;

use super::{
    api::{
        decode,
        lists::{next_link, MAX_PAGES},
    },
    client::{Answer, Credential, Mode, Req},
    GithubApp, GithubError,
};

const JSON: &str = "application/vnd.github+json";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InstallationAccount {
    /// Users and organisations have a login; enterprises a slug.
    #[serde(alias = "slug")]
    pub login: String,
    pub id: i64,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// An installation of the app, as `GET /app/installations` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AppInstallation {
    pub id: i64,
    #[serde(default)]
    pub account: Option<InstallationAccount>,
    #[serde(default)]
    pub repository_selection: Option<String>,
    /// An ISO 8601 timestamp while suspended.
    #[serde(default)]
    pub suspended_at: Option<String>,
}

/// One attempt to deliver a webhook, as GitHub's delivery log lists it (no payload).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HookDelivery {
    /// This attempt's id (a redelivery has its own).
    pub id: i64,
    /// X-GitHub-Delivery: the same for the original and every redelivery.
    pub guid: String,
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub redelivery: bool,
    #[serde(default)]
    pub status: String,
    /// What the receiver answered (GitHub reports a connection failure as a 5xx too).
    pub status_code: i32,
    pub event: String,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub installation_id: Option<i64>,
    #[serde(default)]
    pub repository_id: Option<i64>,
}

impl HookDelivery {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}

/// One page of the delivery log, newest first, and the `rel="next"` page (older deliveries).
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    pub deliveries: Vec<HookDelivery>,
    pub next: Option<Url>,
}

impl GithubApp {
    async fn app_request(
        &self,
        method: Method,
        route: &'static str,
        url: Url,
        body: Option<String>,
    ) -> Result<Answer, GithubError> {
        if !self.http.same_origin(&url) {
            return Err(GithubError::Decode {
                route,
                reason: "Link points away from the API host".into(),
            });
        }
        let req = Req {
            method,
            route,
            url,
            accept: JSON,
            body,
        };
        self.http
            .impatient()
            .execute(Credential::App(&self.jwt), &req, None, Mode::Buffer)
            .await
    }

    /// Every installation of the app (all pages).
    pub async fn list_installations(&self) -> Result<Vec<AppInstallation>, GithubError> {
        const ROUTE: &str = "GET /app/installations";
        let mut all = Vec::new();
        let mut url = self.http.url("/app/installations?per_page=100")?;
        for _ in 0..MAX_PAGES {
            let answer = self.app_request(Method::GET, ROUTE, url, None).await?;
            let page: Vec<AppInstallation> = decode(ROUTE, &answer)?;
            all.extend(page);
            match next_url(ROUTE, &answer)? {
                Some(next) => url = next,
                None => return Ok(all),
            }
        }
        Err(GithubError::Decode {
            route: ROUTE,
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// A page of the app webhook's delivery log: the newest when `from` is None, else the page
    /// a previous `DeliveryPage::next` named.
    pub(crate) async fn hook_deliveries(
        &self,
        from: Option<&Url>,
        per_page: u32,
    ) -> Result<DeliveryPage, GithubError> {
        const ROUTE: &str = "GET /app/hook/deliveries";
        let url = match from {
            Some(u) => u.clone(),
            None => self
                .http
                .url(&format!("/app/hook/deliveries?per_page={per_page}"))?,
        };
        let answer = self.app_request(Method::GET, ROUTE, url, None).await?;
        Ok(DeliveryPage {
            deliveries: decode(ROUTE, &answer)?,
            next: next_url(ROUTE, &answer)?,
        })
    }

    /// One installation of the app (`GET /app/installations/{installation_id}`); None when
    /// GitHub knows no such installation of this app.
    pub async fn get_installation(
        &self,
        installation_id: i64,
    ) -> Result<Option<AppInstallation>, GithubError> {
        const ROUTE: &str = "GET /app/installations/{installation_id}";
        let url = self
            .http
            .url(&format!("/app/installations/{installation_id}"))?;
        match self.app_request(Method::GET, ROUTE, url, None).await {
            Ok(answer) => decode(ROUTE, &answer).map(Some),
            Err(GithubError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Asks GitHub to send a delivery again (202: queued; it arrives with the same GUID).
    pub async fn redeliver(&self, delivery_id: i64) -> Result<(), GithubError> {
        const ROUTE: &str = "POST /app/hook/deliveries/{delivery_id}/attempts";
        let url = self
            .http
            .url(&format!("/app/hook/deliveries/{delivery_id}/attempts"))?;
        self.app_request(Method::POST, ROUTE, url, Some("{}".into()))
            .await
            .map(|_| ())
    }
}

fn next_url(route: &'static str, answer: &Answer) -> Result<Option<Url>, GithubError> {
    next_link(answer)
        .map(|next| {
            Url::parse(&next).map_err(|e| GithubError::Decode {
                route,
                reason: format!("bad Link URL: {e}"),
            })
        })
        .transpose()
}
