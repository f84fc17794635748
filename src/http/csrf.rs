//! Requests that change state on the strength of a session cookie must come from hubsync's own
//! pages: a CSRF token derived from the session (forms, and scripts' header), and the browser's
//! `Sec-Fetch-Site` / `Origin` where it sends them.
use actix_web::{http::Method, HttpRequest};
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};

/// Where a script sends its CSRF token (forms send the `csrf` field).
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token a form of this session must carry: derived from the session's secret, which
/// only the session's own browser holds.
pub(crate) fn csrf_token(session: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hubsync csrf\0");
    h.update(session.as_bytes());
    hex::encode(h.finalize())
}

/// State-changing form posts must come from a page of this session (`session`: the caller's
/// cookie, None for a bearer token).
pub(crate) fn check_csrf(session: Option<&str>, presented: &str) -> Result<(), ApiError> {
    match session {
        // Bearer callers are not browsers: no ambient credentials to forge.
        None => Ok(()),
        Some(session) if crate::secret::same(presented, &csrf_token(session)) => Ok(()),
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
    if crate::secret::same(token, &csrf_token(session)) || !req.path().starts_with("/api/") {
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
