//! The status pages: server-rendered HTML (maud) that reads fine without JavaScript, plus a small
//! script that follows the event stream and updates the page live.
mod healing;
mod layout;
mod login;
mod outbox;
mod overview;
mod project;
mod skipped;

use actix_web::{get, http::header, web, HttpResponse};

use crate::http::{auth::Admin, ApiError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login::login_form)
        .service(login::login_submit)
        .service(login::logout)
        .service(overview::page)
        .service(project::page)
        .service(project::sync_now)
        .service(project::set_branches)
        .service(script)
        .service(style);
}

const APP_JS: &str = include_str!("static/app.js");
const STYLE_CSS: &str = include_str!("static/style.css");

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

/// Pages send visitors without a session to the login form (None); other refusals (a cross-site
/// post, a throttled client) keep their status.
fn signed_in(admin: Result<Admin, ApiError>) -> Result<Option<Admin>, ApiError> {
    match admin {
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
