//! Who may use the pages and the API: whoever holds `HUBSYNC_ADMIN_TOKEN`, presented as a bearer
//! token (API) or exchanged at /login for a session cookie (pages and API alike).
//!
//! Sessions live in the database (store::sessions), so logging out, or starting with another
//! token, ends them on every replica. A cookie-authenticated request that changes something must
//! come from hubsync's own pages (same origin) and, for forms, carry the form's CSRF token.
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

use super::{client, throttle::Throttle, ApiError, AppState};
use crate::{secret::Secret, store::sessions};

pub(crate) const SESSION_COOKIE: &str = "hubsync_session";
pub(crate) const SESSION_DAYS: i64 = 7;
/// Where a script sends its CSRF token (forms send the `csrf` field).
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Proof that the request carries the admin token or a valid session.
pub struct Admin {
    /// The session cookie's value when the caller came through /login (for CSRF tokens).
    pub session: Option<String>,
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { check(&req).await })
    }
}

pub(crate) fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("no app state".into()))
}

fn admin_token(state: &AppState) -> Result<&Secret, ApiError> {
    state.config.admin_token.as_ref().ok_or_else(|| {
        ApiError::Unauthorized("access is closed: HUBSYNC_ADMIN_TOKEN is not set".into())
    })
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
fn not_throttled(req: &HttpRequest, addr: Option<IpAddr>) -> Result<(), ApiError> {
    match throttle(req).and_then(|t| t.wait(addr)) {
        None => Ok(()),
        Some(wait) => Err(ApiError::TooManyRequests {
            message: "too many failed attempts from this address; try again later".into(),
            retry_after: wait,
        }),
    }
}

/// Counts a wrong token against the client and logs it, never what was presented.
fn wrong_token(req: &HttpRequest, addr: Option<IpAddr>, what: &'static str) -> ApiError {
    if let Some(t) = throttle(req) {
        t.failed(addr);
    }
    let client = addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    tracing::warn!(%client, path = req.path(), "{what}: wrong token");
    ApiError::Unauthorized("invalid token".into())
}

async fn check(req: &HttpRequest) -> Result<Admin, ApiError> {
    let state = state(req)?;
    let token = admin_token(state)?;
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        let value = cookie.value();
        if sessions::find(&state.db, value, &token_id(token))
            .await?
            .is_some()
        {
            same_origin(req, state, value)?;
            return Ok(Admin {
                session: Some(value.to_owned()),
            });
        }
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized("log in, or send Authorization: Bearer <token>".into())
        })?;
    let addr = client_addr(req, state);
    not_throttled(req, addr)?;
    if same_secret(presented.trim(), token.expose()) {
        Ok(Admin { session: None })
    } else {
        Err(wrong_token(req, addr, "bearer token"))
    }
}

/// Checks a token typed at /login; on success opens a session and returns its cookie.
pub async fn login(req: &HttpRequest, presented: &str) -> Result<Cookie<'static>, ApiError> {
    let state = state(req)?;
    let token = admin_token(state)?;
    let addr = client_addr(req, state);
    not_throttled(req, addr)?;
    if !same_secret(presented.trim(), token.expose()) {
        return Err(wrong_token(req, addr, "login"));
    }
    let secret = sessions::open(
        &state.db,
        &token_id(token),
        chrono::Duration::days(SESSION_DAYS),
    )
    .await?;
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

/// Ends the request's session server-side, whoever holds a copy of the cookie, and returns the
/// cookie that clears it in this browser.
pub async fn logout(req: &HttpRequest, admin: &Admin) -> Result<Cookie<'static>, ApiError> {
    let state = state(req)?;
    if let Some(session) = &admin.session {
        sessions::revoke(&state.db, session).await?;
    }
    let mut c = session_cookie(state, String::new()).finish();
    c.make_removal();
    Ok(c)
}

/// The CSRF token a form of this session must carry: derived from the session's secret, which
/// only the session's own browser holds.
pub(crate) fn csrf_token(session: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hubsync csrf\0");
    h.update(session.as_bytes());
    hex::encode(h.finalize())
}

/// State-changing form posts must come from a page of this session.
pub(crate) fn check_csrf(admin: &Admin, presented: &str) -> Result<(), ApiError> {
    match &admin.session {
        // Bearer callers are not browsers: no ambient credentials to forge.
        None => Ok(()),
        Some(session) if same_secret(presented, &csrf_token(session)) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "the form's CSRF token is missing or stale: reload the page".into(),
        )),
    }
}

/// A cookie-authenticated request that changes state must show it comes from hubsync's own
/// pages: the browser's `Sec-Fetch-Site` or `Origin` says so, or (browsers that send neither) a
/// CSRF token does; the forms' own token is checked by their handlers as well.
pub(crate) fn same_origin(
    req: &HttpRequest,
    state: &AppState,
    session: &str,
) -> Result<(), ApiError> {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(());
    }
    let cross = || {
        ApiError::Forbidden(
            "refused: the request comes from another site's page (cross-site request)".into(),
        )
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    match header("sec-fetch-site") {
        Some("same-origin") => return Ok(()),
        // "none": the user typed or bookmarked it; for a POST only a browser's own UI does that.
        Some("none") | None => {}
        Some(_) => return Err(cross()),
    }
    if let Some(origin) = header("origin") {
        return if is_own_origin(origin, state, header("host")) {
            Ok(())
        } else {
            Err(cross())
        };
    }
    let token = header(CSRF_HEADER).unwrap_or_default();
    if same_secret(token, &csrf_token(session)) || !req.path().starts_with("/api/") {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a request authenticated by the session cookie must come from hubsync's pages or \
             carry the {CSRF_HEADER} header; scripts can use a bearer token instead"
        )))
    }
}

/// The origin users reach hubsync at (`HUBSYNC_PUBLIC_URL`), or the host the request was sent
/// to: a page's Origin equals its own scheme, host and port, which no other site can claim.
fn is_own_origin(origin: &str, state: &AppState, host: Option<&str>) -> bool {
    let public = state.public_url.origin().ascii_serialization();
    if origin == public {
        return true;
    }
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// Compares digests, so timing reveals neither the token nor its length.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
