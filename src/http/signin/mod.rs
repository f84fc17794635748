//! Sign in with GitHub: GitHub's web application flow with the app's OAuth client.
//!
//! `GET /login/github` draws a random `state` and PKCE verifier, keeps both in a short-lived
//! HttpOnly cookie (SameSite=Lax, so it comes back on GitHub's redirect; nothing is kept on the
//! server, so any replica can finish the flow) and sends the browser to GitHub with the state and
//! the verifier's S256 challenge. `GET /login/github/callback` checks the state against the cookie
//! (a mismatch is a forged or stale callback), exchanges the code with the verifier, identifies
//! the user (`GET /user`), reads what they can reach (`access`), and opens a session. The user's
//! token is sealed in the database and never sent to the browser.
pub mod access;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{auth, AppState};
use crate::{
    github::oauth::OAuthError,
    store::{sessions, users},
};

pub(crate) const FLOW_COOKIE: &str = "hubsync_oauth";
const FLOW_PATH: &str = "/login/github";
const FLOW_MINUTES: i64 = 10;
/// Longest code or state accepted from the callback's query.
const MAX_PARAM: usize = 512;

/// Why a sign-in did not happen; each says what to do, none names a secret.
#[derive(Debug, thiserror::Error)]
pub enum SigninError {
    #[error("Sign in with GitHub is not configured: the app's OAuth client (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET) is not set")]
    NotConfigured,
    #[error("this sign-in cannot be completed: its state does not match the one this browser started with (an old or forged link, or cookies are blocked); start again")]
    StateMismatch,
    #[error("the callback is missing its code or state; start again")]
    Malformed,
    #[error("GitHub did not sign you in ({0}); start again")]
    Denied(String),
    #[error("GitHub refused the sign-in code ({0}); start again")]
    Refused(String),
    #[error("cannot reach GitHub to finish signing in: {0}")]
    Upstream(String),
    #[error("internal error")]
    Internal(String),
}

impl SigninError {
    pub fn status(&self) -> u16 {
        match self {
            Self::NotConfigured => 404,
            Self::StateMismatch | Self::Malformed | Self::Denied(_) | Self::Refused(_) => 400,
            Self::Upstream(_) => 502,
            Self::Internal(_) => 500,
        }
    }
}

impl From<sea_orm::DbErr> for SigninError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<super::ApiError> for SigninError {
    fn from(e: super::ApiError) -> Self {
        match e {
            super::ApiError::Upstream(m) => Self::Upstream(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Whether the login page offers the button.
pub(crate) fn available(state: &AppState) -> bool {
    state.github.oauth().is_some()
}

fn random() -> Result<String, SigninError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| SigninError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// RFC 7636's S256: base64url(SHA-256(verifier)).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}/login/github/callback",
        state.public_url.as_str().trim_end_matches('/')
    )
}

fn flow_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(FLOW_COOKIE, value)
        .path(FLOW_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.public_url.scheme() == "https")
        .max_age(CookieDuration::minutes(FLOW_MINUTES))
        .finish()
}

pub struct Started {
    pub authorize_url: String,
    pub cookie: Cookie<'static>,
}

/// Begins a sign-in: where to send the browser, and the cookie that remembers the flow.
pub fn start(state: &AppState) -> Result<Started, SigninError> {
    let oauth = state.github.oauth().ok_or(SigninError::NotConfigured)?;
    let (flow_state, verifier) = (random()?, random()?);
    let url = oauth
        .authorize_url(&redirect_uri(state), &flow_state, &challenge(&verifier))
        .map_err(|e| SigninError::Internal(e.to_string()))?;
    Ok(Started {
        authorize_url: url.to_string(),
        cookie: flow_cookie(state, format!("{flow_state}.{verifier}")),
    })
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

pub struct SignedIn {
    pub login: String,
    pub session: Cookie<'static>,
}

/// The cookie that ends the flow in the browser, whatever the outcome.
pub(crate) fn clear_flow(state: &AppState) -> Cookie<'static> {
    let mut c = flow_cookie(state, String::new());
    c.make_removal();
    c
}

/// Finishes a sign-in from GitHub's callback.
pub async fn finish(
    state: &AppState,
    flow: Option<&str>,
    q: &CallbackQuery,
) -> Result<SignedIn, SigninError> {
    let oauth = state.github.oauth().ok_or(SigninError::NotConfigured)?;
    if let Some(error) = &q.error {
        // GitHub's error codes are short words (access_denied); keep it printable and short.
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(SigninError::Denied(error));
    }
    let (Some(code), Some(got_state)) = (q.code.as_deref(), q.state.as_deref()) else {
        return Err(SigninError::Malformed);
    };
    if code.is_empty() || code.len() > MAX_PARAM || got_state.len() > MAX_PARAM {
        return Err(SigninError::Malformed);
    }
    let (want_state, verifier) = flow
        .and_then(|f| f.split_once('.'))
        .ok_or(SigninError::StateMismatch)?;
    if !crate::secret::same(got_state, want_state) {
        return Err(SigninError::StateMismatch);
    }
    let tokens = oauth
        .exchange_code(code, verifier, &redirect_uri(state))
        .await
        .map_err(|e| match e {
            OAuthError::Refused { error, .. } => SigninError::Refused(error),
            OAuthError::Github(e) => SigninError::Upstream(e.to_string()),
        })?;
    let user = oauth
        .user(&tokens.access)
        .await
        .map_err(|e| SigninError::Upstream(e.to_string()))?;
    let sealer = access::sealer(&oauth);
    users::signed_in(
        &state.db,
        user.id,
        &user.login,
        &access::sealed(&sealer, &tokens)?,
    )
    .await?;
    match access::recheck(state, &oauth, &tokens.access, user.id, &user.login).await {
        Ok(()) => {}
        Err(access::RecheckError::Unauthorized) => {
            return Err(SigninError::Upstream("GitHub refused the new token".into()))
        }
        Err(access::RecheckError::Other(e)) => return Err(e.into()),
    }
    let secret = sessions::open_user(
        &state.db,
        user.id,
        chrono::Duration::days(auth::SESSION_DAYS),
    )
    .await?;
    tracing::info!(user = %user.login, "signed in with GitHub");
    Ok(SignedIn {
        login: user.login,
        session: auth::session_cookie(state, secret.expose().to_owned())
            .max_age(CookieDuration::days(auth::SESSION_DAYS))
            .finish(),
    })
}
