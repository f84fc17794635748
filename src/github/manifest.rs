//! The app-manifest flow's GitHub half: turning the one-time `code` into the new app's
//! credentials (`POST /app-manifests/{code}/conversions`, no authentication).
use http::Method;
use serde::Deserialize;

use super::{
    api::decode,
    client::{Credential, Mode, Req},
    GithubError, GithubHttp,
};
use crate::secret::Secret;

/// The app GitHub just created. Secrets stay wrapped.
#[derive(Debug, Clone)]
pub(crate) struct CreatedApp {
    pub id: u64,
    pub slug: String,
    pub html_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub webhook_secret: Secret,
    pub pem: Secret,
}

#[derive(Deserialize)]
struct RawCreatedApp {
    id: u64,
    slug: Option<String>,
    html_url: String,
    client_id: String,
    client_secret: String,
    webhook_secret: Option<String>,
    pem: String,
}

impl GithubHttp {
    pub(crate) async fn convert_manifest_code(
        &self,
        code: &str,
    ) -> Result<CreatedApp, GithubError> {
        const ROUTE: &str = "POST /app-manifests/{code}/conversions";
        let ok = !code.is_empty()
            && code.len() <= 200
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(GithubError::Request(
                "the manifest code is malformed".into(),
            ));
        }
        let req = Req {
            method: Method::POST,
            route: ROUTE,
            url: self.url(&format!("/app-manifests/{code}/conversions"))?,
            accept: "application/vnd.github+json",
            body: None,
        };
        let answer = self
            .execute(Credential::None, &req, None, Mode::Buffer)
            .await?;
        let raw: RawCreatedApp = decode(ROUTE, &answer)?;
        Ok(CreatedApp {
            id: raw.id,
            slug: raw.slug.unwrap_or_default(),
            html_url: raw.html_url,
            client_id: raw.client_id,
            client_secret: Secret::new(raw.client_secret),
            webhook_secret: Secret::new(raw.webhook_secret.unwrap_or_default()),
            pem: Secret::new(raw.pem),
        })
    }
}
