//! Sign in with GitHub, GitHub's half: the web application flow of the app's OAuth client
//! (authorize URL with state and a PKCE S256 challenge; the code exchanged for a user-to-server
//! token at `{GITHUB_URL}/login/oauth/access_token`; refreshing it), and the calls made as the user
//! to learn what they may see: `GET /user`, `GET /user/installations`,
//! `GET /user/installations/{installation_id}/repositories`, `GET /orgs/{org}/memberships/{username}`.
use chrono::{DateTime, Duration as Span, Utc};
use http::Method;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    api::{decode, lists::next_link},
    client::{Answer, Credential, Mode, Req},
    GithubError, GithubHttp, GithubOptions,
};
use crate::secret::Secret;

const JSON: &str = "application/vnd.github+json";
/// Pages read per listing at 100 a page: 10,000 installations or repositories per installation.
const MAX_PAGES: usize = 100;

/// The app's OAuth client (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`). Debug never shows the secret.
#[derive(Clone)]
pub struct OAuthClient {
    http: GithubHttp,
    web_url: Url,
    client_id: String,
    client_secret: Secret,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OAuthClient({})", self.client_id)
    }
}

/// A user-to-server token and, when the app's tokens expire, its refresh token and lifetimes.
#[derive(Debug, Clone)]
pub struct UserTokens {
    pub access: Secret,
    pub refresh: Option<Secret>,
    pub expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GithubUser {
    pub id: i64,
    pub login: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserAccount {
    pub login: String,
    pub id: i64,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// An installation of the app the user can reach (`GET /user/installations`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserInstallation {
    pub id: i64,
    pub account: Option<UserAccount>,
}

/// The user's membership of an organisation (`GET /orgs/{org}/memberships/{username}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum OrgRole {
    /// An active owner.
    Admin,
    /// Any other membership (member, billing manager, a pending invitation).
    Member,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// GitHub answered the token request with an OAuth error (`bad_verification_code`,
    /// `bad_refresh_token`, `incorrect_client_credentials`, ...): the code or refresh token is
    /// spent, wrong or revoked.
    #[error("GitHub refused the sign-in ({error}): {description}")]
    Refused { error: String, description: String },
    #[error(transparent)]
    Github(#[from] GithubError),
}

#[derive(Deserialize)]
struct RawTokens {
    access_token: Option<String>,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    refresh_token_expires_in: Option<i64>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Serialize)]
struct CodeGrant<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    code: &'a str,
    redirect_uri: &'a str,
    code_verifier: &'a str,
}

#[derive(Serialize)]
struct RefreshGrant<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'static str,
    refresh_token: &'a str,
}

#[derive(Deserialize)]
struct InstallationsPage {
    installations: Vec<UserInstallation>,
}

#[derive(Deserialize)]
struct RepoId {
    id: i64,
}

#[derive(Deserialize)]
struct ReposPage {
    repositories: Vec<RepoId>,
}

#[derive(Deserialize)]
struct Membership {
    state: String,
    role: String,
}

impl OAuthClient {
    /// Requests are short and never wait out a rate limit: a person is waiting for the page.
    pub fn new(
        options: &GithubOptions,
        web_url: Url,
        client_id: String,
        client_secret: Secret,
    ) -> Result<Self, GithubError> {
        let mut options = options.clone();
        options.request_timeout = options
            .request_timeout
            .min(std::time::Duration::from_secs(15));
        options.retry.max_attempts = options.retry.max_attempts.min(3);
        Ok(Self {
            http: GithubHttp::new(&options)?.impatient(),
            web_url,
            client_id,
            client_secret,
        })
    }

    pub fn client_secret(&self) -> &Secret {
        &self.client_secret
    }

    fn web(&self, path: &str) -> Result<Url, GithubError> {
        let raw = format!("{}{path}", self.web_url.as_str().trim_end_matches('/'));
        Url::parse(&raw).map_err(|e| GithubError::Request(format!("bad URL for {path}: {e}")))
    }

    /// Where the browser goes to authorise: `{GITHUB_URL}/login/oauth/authorize`.
    pub(crate) fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<Url, GithubError> {
        let mut url = self.web("/login/oauth/authorize")?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Exchanges the callback's code (with the PKCE verifier) for the user's tokens.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<UserTokens, OAuthError> {
        let body = CodeGrant {
            client_id: &self.client_id,
            client_secret: self.client_secret.expose(),
            code,
            redirect_uri,
            code_verifier,
        };
        self.token_request(serde_json::to_string(&body).expect("serializes"))
            .await
    }

    /// A new token pair from the refresh token; the old pair stops working.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<UserTokens, OAuthError> {
        let body = RefreshGrant {
            client_id: &self.client_id,
            client_secret: self.client_secret.expose(),
            grant_type: "refresh_token",
            refresh_token: refresh_token.expose(),
        };
        self.token_request(serde_json::to_string(&body).expect("serializes"))
            .await
    }

    async fn token_request(&self, body: String) -> Result<UserTokens, OAuthError> {
        const ROUTE: &str = "POST /login/oauth/access_token";
        let req = Req {
            method: Method::POST,
            route: ROUTE,
            url: self.web("/login/oauth/access_token")?,
            accept: "application/json",
            body: Some(body),
        };
        let answer = self
            .http
            .execute(Credential::None, &req, None, Mode::Buffer)
            .await?;
        let raw: RawTokens = decode(ROUTE, &answer)?;
        // GitHub answers OAuth errors with 200 and an `error` field.
        if let Some(error) = raw.error {
            return Err(OAuthError::Refused {
                error,
                description: raw.error_description.unwrap_or_default(),
            });
        }
        let access =
            raw.access_token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| GithubError::Decode {
                    route: ROUTE,
                    reason: "no access_token in the answer".into(),
                })?;
        let now = Utc::now();
        Ok(UserTokens {
            access: Secret::new(access),
            refresh: raw.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
            expires_at: raw.expires_in.map(|s| now + Span::seconds(s)),
            refresh_expires_at: raw.refresh_token_expires_in.map(|s| now + Span::seconds(s)),
        })
    }

    async fn get(
        &self,
        token: &Secret,
        route: &'static str,
        url: Url,
    ) -> Result<Answer, GithubError> {
        if !self.http.same_origin(&url) {
            return Err(GithubError::Decode {
                route,
                reason: "Link points away from the API host".into(),
            });
        }
        let req = Req {
            method: Method::GET,
            route,
            url,
            accept: JSON,
            body: None,
        };
        self.http
            .execute(Credential::User(token), &req, None, Mode::Buffer)
            .await
    }

    /// Follows `rel="next"` from `path`, at most `MAX_PAGES` pages.
    async fn pages<P: serde::de::DeserializeOwned>(
        &self,
        token: &Secret,
        route: &'static str,
        path: &str,
        mut each: impl FnMut(P),
    ) -> Result<(), GithubError> {
        let mut url = self.http.url(path)?;
        for _ in 0..MAX_PAGES {
            let answer = self.get(token, route, url).await?;
            each(decode(route, &answer)?);
            let Some(next) = next_link(&answer) else {
                return Ok(());
            };
            url = Url::parse(&next).map_err(|e| GithubError::Decode {
                route,
                reason: format!("bad Link URL: {e}"),
            })?;
        }
        Err(GithubError::Decode {
            route,
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    pub async fn user(&self, token: &Secret) -> Result<GithubUser, GithubError> {
        const ROUTE: &str = "GET /user";
        let answer = self.get(token, ROUTE, self.http.url("/user")?).await?;
        decode(ROUTE, &answer)
    }

    pub async fn installations(
        &self,
        token: &Secret,
    ) -> Result<Vec<UserInstallation>, GithubError> {
        let mut all = Vec::new();
        self.pages(
            token,
            "GET /user/installations",
            "/user/installations?per_page=100",
            |p: InstallationsPage| all.extend(p.installations),
        )
        .await?;
        Ok(all)
    }

    /// The ids of the installation's repositories the user can reach.
    pub async fn installation_repositories(
        &self,
        token: &Secret,
        installation_id: i64,
    ) -> Result<Vec<i64>, GithubError> {
        let mut all = Vec::new();
        self.pages(
            token,
            "GET /user/installations/{installation_id}/repositories",
            &format!("/user/installations/{installation_id}/repositories?per_page=100"),
            |p: ReposPage| all.extend(p.repositories.into_iter().map(|r| r.id)),
        )
        .await?;
        Ok(all)
    }

    /// The user's role in `org`; None when they are not a member (404).
    pub(crate) async fn org_role(
        &self,
        token: &Secret,
        org: &str,
        username: &str,
    ) -> Result<Option<OrgRole>, GithubError> {
        const ROUTE: &str = "GET /orgs/{org}/memberships/{username}";
        let seg = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let url = self
            .http
            .url(&format!("/orgs/{}/memberships/{}", seg(org), seg(username)))?;
        match self.get(token, ROUTE, url).await {
            Ok(answer) => {
                let m: Membership = decode(ROUTE, &answer)?;
                Ok(Some(if m.role == "admin" && m.state == "active" {
                    OrgRole::Admin
                } else {
                    OrgRole::Member
                }))
            }
            Err(GithubError::NotFound { .. }) => Ok(None),
            // Without the app's `members` permission GitHub refuses: nobody is an owner then.
            Err(GithubError::Status { status: 403, .. }) => {
                tracing::warn!(
                    "GitHub refused to read an organisation membership: grant the app the \
                     members (read) permission so owners can change what is synced"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
