//! The status pages: server-rendered HTML (maud) that reads fine without JavaScript, plus a small
//! script that follows the event stream and updates the page live.
//!
//! Page handlers answer errors as pages (`PageError`), never as the API's JSON.
mod data;
mod errors;
mod first_run;
mod healing;
pub(crate) mod layout;
mod login;
mod outbox;
mod overview;
mod project;
mod project_forms;
mod run;
mod runs;
mod signin;
mod skipped;
mod timeline;
mod tokens;

use actix_web::{get, http::header, web, HttpResponse};

pub(crate) use errors::{form_config, not_found, PageError};

use crate::http::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login::login_form)
        .service(login::login_submit)
        .service(login::logout)
        .service(signin::start)
        .service(signin::callback)
        .service(overview::page)
        .service(project::page)
        .service(project_forms::sync_now)
        .service(project_forms::set_branches)
        .service(run::page)
        .service(run::retry)
        .service(tokens::page)
        .service(tokens::create)
        .service(tokens::revoke)
        .service(script)
        .service(tokens_script)
        .service(style)
        .service(favicon)
        .service(favicon_ico);
}

const APP_JS: &str = include_str!("static/app.js");
const STYLE_CSS: &str = include_str!("static/style.css");
const TOKENS_JS: &str = include_str!("static/tokens.js");

#[get("/static/tokens.js")]
async fn tokens_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(TOKENS_JS)
}
const FAVICON: &str = include_str!("static/favicon.svg");

#[get("/static/app.js")]
async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(APP_JS)
}

#[get("/static/style.css")]
async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(STYLE_CSS)
}

#[get("/static/favicon.svg")]
async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

/// Browsers ask for /favicon.ico on pages that name no icon (the JSON API, say).
#[get("/favicon.ico")]
async fn favicon_ico() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/static/favicon.svg"))
        .finish()
}

/// Pages (for an admin or a user signed in with GitHub; `T` is `Admin` or `Caller`) send
/// visitors without a session to the login form (None); other refusals (a cross-site
/// post, a throttled client) keep their status.
pub(crate) fn signed_in<T>(who: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    match who {
        Ok(a) => Ok(Some(a)),
        Err(ApiError::Unauthorized(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Pages send visitors without a session to the login form.
fn to_login() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish()
}

fn redirect(to: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}
