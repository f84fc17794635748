//! The status pages: server-rendered HTML (maud) that reads fine without JavaScript, plus a small
//! script that follows the event stream and updates the page live.
mod healing;
mod layout;
mod login;
mod overview;
mod project;
mod signin;
mod skipped;

use actix_web::{get, http::header, web, HttpResponse};

use crate::http::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login::login_form)
        .service(login::login_submit)
        .service(login::logout)
        .service(signin::start)
        .service(signin::callback)
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
fn signed_in<T>(viewer: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    match viewer {
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

/// A refused change on a page, said in HTML (a read-only member, a stale form).
fn refused(e: ApiError) -> HttpResponse {
    use actix_web::ResponseError;
    let status = e.status_code();
    let body = maud::html! {
        h1 { "Not allowed" }
        p.error role="alert" { (e.to_string()) }
        p { a href="/" { "Back to the projects" } }
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(layout::page("Not allowed", None, None, body).into_string())
}

fn redirect(to: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}
