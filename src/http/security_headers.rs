//! Headers every response carries, so that a browser never runs anything on hubsync's origin but
//! its own static script: a Content-Security-Policy without inline code, no framing, no MIME
//! sniffing, no referrer leaking hubsync's URLs to GitHub. A response that sets its own policy
//! (the raw file endpoint's sandbox) keeps it.
use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderValue},
    middleware::Next,
    web,
};

/// The page policy, built once: the only form that leaves hubsync goes to GitHub (/setup).
pub(crate) struct SecurityHeaders {
    page_policy: HeaderValue,
}

impl SecurityHeaders {
    pub fn new(github_web: &url::Url) -> Self {
        let github = github_web.origin().ascii_serialization();
        let policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self' {github}; base-uri 'none'; \
             frame-ancestors 'none'"
        );
        Self {
            page_policy: HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        }
    }
}

pub async fn add(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = req
        .app_data::<web::Data<SecurityHeaders>>()
        .map(|h| h.page_policy.clone());
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    if let Some(policy) = policy {
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages show repository names and CSRF tokens: never keep them in a shared cache.
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}
