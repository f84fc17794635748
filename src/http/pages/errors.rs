//! Errors on pages are pages: the same statuses as the API (and `Retry-After`), with the message
//! in HTML instead of `{"error": ...}`.
use actix_web::{
    error::InternalError, http::header, http::StatusCode, web, HttpRequest, HttpResponse,
    ResponseError,
};

use super::layout::{message, respond};
use crate::http::ApiError;

/// What a page handler fails with: the API's error, and where the error page links back to.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub(crate) struct PageError {
    pub error: ApiError,
    back: (&'static str, &'static str),
}

impl PageError {
    /// The error page's way back (the projects overview unless said otherwise).
    pub(crate) fn back(mut self, href: &'static str, label: &'static str) -> Self {
        self.back = (href, label);
        self
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            back: ("/", "Back to the projects"),
        }
    }
}

impl From<sea_orm::DbErr> for PageError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::sync::requests::RequestError> for PageError {
    fn from(e: crate::sync::requests::RequestError) -> Self {
        ApiError::from(e).into()
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        // The API's response decides status and headers (and logs internal errors once).
        let api = self.error.error_response();
        let status = api.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let mut res = respond(status, message(title, &self.error.to_string(), self.back));
        if let Some(wait) = api.headers().get(header::RETRY_AFTER) {
            res.headers_mut().insert(header::RETRY_AFTER, wait.clone());
        }
        res
    }
}

/// Page forms that cannot be read (a missing field, too large, not urlencoded) answer a page.
pub(crate) fn form_config() -> web::FormConfig {
    web::FormConfig::default().error_handler(|e, _| {
        let page = PageError::from(ApiError::BadRequest(format!(
            "the form could not be read: {e}"
        )));
        let res = page.error_response();
        InternalError::from_response(e, res).into()
    })
}

/// Unknown routes: a page for browsers, the API's JSON for everyone else.
pub(crate) fn not_found(req: &HttpRequest) -> Option<HttpResponse> {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    wants_html.then(|| {
        let text = format!("There is no page at {}.", req.path());
        respond(
            StatusCode::NOT_FOUND,
            message("Not found", &text, ("/", "Back to the projects")),
        )
    })
}
