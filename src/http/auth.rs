//! Who is calling: `Caller`, the one type every handler asks for. An admin holds
//! `HUBSYNC_ADMIN_TOKEN` (as a bearer token, or exchanged at /login for a session cookie) or
//! opened the first run's one-time setup link; an API token (`hs_...`, minted by an admin) is
//! limited to its scope and, optionally, one project.
//!
//! Sessions and API tokens live in the database (store::sessions, store::tokens) and are looked
//! up on every request, so logging out, revoking a token, or starting with another admin token
//! takes effect on every replica at once. A cookie-authenticated request that changes something
//! must come from hubsync's own pages (same origin) and, for forms, carry the form's CSRF token.
//! Wrong tokens are counted per client address and throttled (throttle.rs).
use std::net::IpAddr;

use actix_web::{
    cookie::{Cookie, SameSite},
    dev::Payload,
    http::{header, Method},
    web, FromRequest, HttpRequest,
};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::{client, csrf, signin::access, throttle::Throttle, ApiError, AppState};
use crate::{
    secret::Secret,
    store::{
        sessions,
        tokens::{self, TokenScope},
    },
};

pub(crate) const SESSION_COOKIE: &str = "hubsync_session";
pub(crate) const SESSION_DAYS: i64 = 7;

/// Who is calling, as every handler sees it.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The break-glass admin: the admin token, a session opened with it, or the first admin's
    /// setup-link session. May do everything.
    Admin(Admin),
    /// An API token: its scope, and the one project it may see (None: all).
    Token(TokenCaller),
    /// A user signed in with GitHub: sees the projects of the repositories GitHub lets them
    /// reach, and changes those whose installation account they administer (see visibility.rs).
    User(UserViewer),
}

/// Proof that the request carries the admin token or an admin session.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    /// The session cookie's value when the caller came through a browser session (for CSRF).
    pub session: Option<String>,
}

/// A GitHub user's session, their access re-checked when stale.
#[derive(Debug, Clone)]
pub(crate) struct UserViewer {
    /// The session cookie's value (for CSRF tokens).
    pub session: String,
    pub user_id: i64,
    pub login: String,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenCaller {
    /// Its row: long-lived streams re-check that it is still live (http::stream_access).
    pub id: i64,
    pub scope: TokenScope,
    pub project_id: Option<i64>,
}

impl Caller {
    /// May this caller see project `id`, as far as a token's limit goes? Others' projects answer
    /// 404, as if they did not exist. A user's per-repository visibility needs the database:
    /// `Caller::project` and `Caller::visible` check both.
    pub fn sees(&self, project_id: i64) -> bool {
        match self {
            Caller::Admin(_) | Caller::User(_) => true,
            Caller::Token(t) => t.project_id.is_none_or(|p| p == project_id),
        }
    }

    /// The one project a limited caller may see; None: every project.
    pub(crate) fn only_project(&self) -> Option<i64> {
        match self {
            Caller::Admin(_) | Caller::User(_) => None,
            Caller::Token(t) => t.project_id,
        }
    }

    /// A list's project filter, narrowed to what this caller may see: asking for another
    /// project is a 404.
    pub fn narrow(&self, asked: Option<i64>) -> Result<Option<i64>, ApiError> {
        match (self.only_project(), asked) {
            (None, asked) => Ok(asked),
            (Some(own), Some(asked)) if asked != own => Err(no_project(asked)),
            (Some(own), _) => Ok(Some(own)),
        }
    }

    /// Changing selections and starting syncs: admins and `write` tokens. A user's right depends
    /// on the project (their role): `Caller::writable_project` checks it.
    pub(crate) fn require_write(&self) -> Result<(), ApiError> {
        match self {
            Caller::Token(t) if t.scope == TokenScope::Read => Err(read_only()),
            _ => Ok(()),
        }
    }

    /// What only an admin may do (minting and revoking tokens...).
    pub(crate) fn require_admin(&self) -> Result<&Admin, ApiError> {
        match self {
            Caller::Admin(a) => Ok(a),
            Caller::Token(_) => Err(ApiError::Forbidden(
                "API tokens cannot do this: it needs an admin (the admin token or an admin session)"
                    .into(),
            )),
            Caller::User(_) => Err(ApiError::Forbidden(
                "a user signed in with GitHub cannot do this: it needs an admin (the admin token \
                 or an admin session)"
                    .into(),
            )),
        }
    }
}

/// The 404 of a project that does not exist, or that the caller may not see: the same answer.
pub(crate) fn no_project(id: i64) -> ApiError {
    ApiError::NotFound(format!("no project with id {id}"))
}

fn read_only() -> ApiError {
    ApiError::Forbidden(
        "this API token's scope is read: it can read (GET) but not change selections or start \
         syncs; create a token with scope write for that"
            .into(),
    )
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { check(&req).await })
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { check(&req).await?.require_admin().cloned() })
    }
}

pub(crate) fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("no app state".into()))
}

/// Names the admin token a session was opened with, without revealing it: sessions of another
/// token are not accepted.
pub(crate) fn token_id(token: &Secret) -> String {
    let mut h = Sha256::new();
    h.update(b"hubsync admin token id\0");
    h.update(token.expose().as_bytes());
    hex::encode(&h.finalize()[..8])
}

fn throttle(req: &HttpRequest) -> Option<&Throttle> {
    req.app_data::<web::Data<Throttle>>().map(|t| t.get_ref())
}

fn client_addr(req: &HttpRequest, state: &AppState) -> Option<IpAddr> {
    client::address(req, &state.config.http.trusted_proxies)
}

/// 429 while this client has guessed too often.
pub(crate) fn not_throttled(req: &HttpRequest) -> Result<(), ApiError> {
    let addr = state(req).ok().and_then(|s| client_addr(req, s));
    match throttle(req).and_then(|t| t.wait(addr)) {
        None => Ok(()),
        Some(wait) => Err(ApiError::TooManyRequests {
            message: "too many failed attempts from this address; try again later".into(),
            retry_after: wait,
        }),
    }
}

/// Counts a wrong token against the client and logs it, never what was presented.
pub(crate) fn wrong_token(req: &HttpRequest, what: &'static str) -> ApiError {
    let addr = state(req).ok().and_then(|s| client_addr(req, s));
    if let Some(t) = throttle(req) {
        t.failed(addr);
    }
    let client = addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    tracing::warn!(%client, path = req.path(), "{what}: wrong token");
    ApiError::Unauthorized("invalid token".into())
}

async fn check(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = state(req)?;
    let admin_token = state.config.admin_token.as_ref();
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        let value = cookie.value();
        let token_id = admin_token.map(token_id);
        if sessions::find(&state.db, value, token_id.as_deref())
            .await?
            .is_some()
        {
            csrf::same_origin(req, state, value)?;
            return Ok(Caller::Admin(Admin {
                session: Some(value.to_owned()),
            }));
        }
        if let Some(user) = user(req, state, value).await? {
            return Ok(Caller::User(user));
        }
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::Unauthorized("log in, or send Authorization: Bearer <token>".into())
        })?;
    not_throttled(req)?;
    if presented.starts_with(tokens::PREFIX) {
        let caller = api_token(req, state, presented).await?;
        if caller.scope == TokenScope::Read && !is_read(req.method()) {
            return Err(read_only());
        }
        return Ok(Caller::Token(caller));
    }
    let Some(admin_token) = admin_token else {
        return Err(ApiError::Unauthorized(
            "HUBSYNC_ADMIN_TOKEN is not set, so only API tokens (hs_...) and sessions open \
             the API"
                .into(),
        ));
    };
    if crate::secret::same(presented, admin_token.expose()) {
        Ok(Caller::Admin(Admin { session: None }))
    } else {
        Err(wrong_token(req, "bearer token"))
    }
}

/// The GitHub user whose live session `cookie` names, with their access re-checked if stale.
async fn user(
    req: &HttpRequest,
    state: &AppState,
    cookie: &str,
) -> Result<Option<UserViewer>, ApiError> {
    let Some(session) = sessions::find_user(&state.db, cookie).await? else {
        return Ok(None);
    };
    let Some(user_id) = session.user_id else {
        return Ok(None);
    };
    csrf::same_origin(req, state, cookie)?;
    let login = access::ensure_fresh(state, user_id).await?;
    Ok(Some(UserViewer {
        session: cookie.to_owned(),
        user_id,
        login,
    }))
}

/// An `hs_...` bearer token: live, or 401 saying why (an expired or revoked token is no guess,
/// so it is not counted against the client).
async fn api_token(
    req: &HttpRequest,
    state: &AppState,
    presented: &str,
) -> Result<TokenCaller, ApiError> {
    match tokens::find_live(&state.db, presented).await? {
        Ok(t) => Ok(TokenCaller {
            id: t.id,
            scope: t.scope,
            project_id: t.project_id,
        }),
        Err(tokens::Refused::Expired) => {
            Err(ApiError::Unauthorized("this API token has expired".into()))
        }
        Err(tokens::Refused::Revoked) => {
            Err(ApiError::Unauthorized("this API token was revoked".into()))
        }
        Err(tokens::Refused::Unknown) => Err(wrong_token(req, "API token")),
    }
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// Checks a token typed at /login; on success opens a session and returns its cookie.
pub async fn login(req: &HttpRequest, presented: &str) -> Result<Cookie<'static>, ApiError> {
    let state = state(req)?;
    let token = state.config.admin_token.as_ref().ok_or_else(|| {
        ApiError::Unauthorized(
            "HUBSYNC_ADMIN_TOKEN is not set: there is no token to log in with".into(),
        )
    })?;
    not_throttled(req)?;
    if !crate::secret::same(presented.trim(), token.expose()) {
        return Err(wrong_token(req, "login"));
    }
    open_session(state, sessions::Opener::AdminToken(&token_id(token))).await
}

/// Opens a session (the first admin's, from the setup link) and returns its cookie.
pub(crate) async fn open_session(
    state: &AppState,
    by: sessions::Opener<'_>,
) -> Result<Cookie<'static>, ApiError> {
    let secret = sessions::open(&state.db, by, chrono::Duration::days(SESSION_DAYS)).await?;
    Ok(session_cookie(state, secret.expose().to_owned())
        .max_age(actix_web::cookie::time::Duration::days(SESSION_DAYS))
        .finish())
}

/// HttpOnly: scripts never see it; SameSite=Strict: other sites' pages never send it; Secure
/// when users reach hubsync over https (from `HUBSYNC_PUBLIC_URL`, not from request headers a
/// client could forge).
pub(crate) fn session_cookie(
    state: &AppState,
    value: String,
) -> actix_web::cookie::CookieBuilder<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.scheme() == "https")
}

/// Ends the request's session (an admin's or a GitHub user's) server-side, whoever holds a copy
/// of the cookie, and returns the cookie that clears it in this browser.
pub async fn logout(req: &HttpRequest, session: Option<&str>) -> Result<Cookie<'static>, ApiError> {
    let state = state(req)?;
    if let Some(session) = session {
        sessions::revoke(&state.db, session).await?;
    }
    let mut c = session_cookie(state, String::new()).finish();
    c.make_removal();
    Ok(c)
}

/// Checks `Authorization: Bearer` against a fixed token other than the admin's (the metrics
/// token), with the same throttling of wrong guesses.
pub(crate) fn check_bearer(
    req: &HttpRequest,
    expected: &Secret,
    what: &'static str,
) -> Result<(), ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("send Authorization: Bearer <token>".into()))?;
    not_throttled(req)?;
    if crate::secret::same(presented.trim(), expected.expose()) {
        Ok(())
    } else {
        Err(wrong_token(req, what))
    }
}
