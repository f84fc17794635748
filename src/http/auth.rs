//! Who may use the pages and the API: whoever holds `HUBSYNC_ADMIN_TOKEN`, presented as a bearer
//! token (API) or exchanged at /login for a session cookie (pages and API alike).
//!
//! Sessions are stateless, so every replica accepts them: the cookie is an expiry signed with a
//! key derived from the admin token (rotating the token ends every session). Forms carry a CSRF
//! token derived from the session.
use std::future::{ready, Ready};

use actix_web::{
    cookie::{Cookie, SameSite},
    dev::Payload,
    http::header,
    web, FromRequest, HttpRequest,
};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::secret::Secret;

pub const SESSION_COOKIE: &str = "hubsync_session";
const SESSION_DAYS: i64 = 7;

/// Proof that the request carries the admin token or a valid session.
pub struct Admin {
    /// The session cookie's value when the caller came through /login (for CSRF tokens).
    pub session: Option<String>,
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}

fn admin_token(req: &HttpRequest) -> Result<Secret, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("no app state".into()))?;
    state.config.admin_token.clone().ok_or_else(|| {
        ApiError::Unauthorized("access is closed: HUBSYNC_ADMIN_TOKEN is not set".into())
    })
}

fn check(req: &HttpRequest) -> Result<Admin, ApiError> {
    let token = admin_token(req)?;
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        if session_valid(&token, cookie.value()) {
            return Ok(Admin {
                session: Some(cookie.value().to_owned()),
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
    if same_secret(presented.trim(), token.expose()) {
        Ok(Admin { session: None })
    } else {
        Err(ApiError::Unauthorized("invalid token".into()))
    }
}

/// Checks a token typed at /login; on success returns the session cookie to set.
pub fn login(req: &HttpRequest, presented: &str) -> Result<Cookie<'static>, ApiError> {
    let token = admin_token(req)?;
    if !same_secret(presented.trim(), token.expose()) {
        return Err(ApiError::Unauthorized("invalid token".into()));
    }
    let expires = chrono::Utc::now().timestamp() + SESSION_DAYS * 86_400;
    let value = format!("{expires}.{}", sign(&token, &format!("session:{expires}")));
    let secure = req.connection_info().scheme() == "https";
    Ok(Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::days(SESSION_DAYS))
        .finish())
}

pub fn logout_cookie() -> Cookie<'static> {
    let mut c = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    c.make_removal();
    c
}

fn session_valid(token: &Secret, value: &str) -> bool {
    let Some((expires, mac)) = value.split_once('.') else {
        return false;
    };
    let Ok(exp) = expires.parse::<i64>() else {
        return false;
    };
    exp > chrono::Utc::now().timestamp()
        && same_secret(mac, &sign(token, &format!("session:{exp}")))
}

/// The CSRF token a form of this session must carry.
pub fn csrf_token(req: &HttpRequest, session: &str) -> Result<String, ApiError> {
    Ok(sign(&admin_token(req)?, &format!("csrf:{session}")))
}

/// State-changing form posts must come from a page of this session.
pub fn check_csrf(req: &HttpRequest, admin: &Admin, presented: &str) -> Result<(), ApiError> {
    match &admin.session {
        // Bearer callers are not browsers: no ambient credentials to forge.
        None => Ok(()),
        Some(session) if same_secret(presented, &csrf_token(req, session)?) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "the form's CSRF token is missing or stale: reload the page".into(),
        )),
    }
}

fn sign(token: &Secret, message: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(token.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Compares digests, so timing reveals neither the token nor its length.
fn same_secret(a: &str, b: &str) -> bool {
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
