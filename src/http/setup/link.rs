//! `GET /setup?token=`: the one-time link `hubsync serve` printed. Opening it signs this browser
//! in as the first admin, then drops the token from the address bar.
use actix_web::{http::header, HttpRequest, HttpResponse};
use maud::html;

use crate::{
    http::{auth, error::ApiError, pages::layout, AppState},
    store::{sessions::Opener, setup_links},
};

pub(super) async fn open(
    req: &HttpRequest,
    state: &AppState,
    already_admin: bool,
    token: &str,
) -> Result<HttpResponse, ApiError> {
    // Where the first admin goes next: creating the app, or the status page once there is one.
    let next = if state.github.app().is_some() {
        "/"
    } else {
        "/setup"
    };
    auth::not_throttled(req)?;
    if setup_links::redeem(&state.db, token.trim()).await? {
        let cookie = auth::open_session(state, Opener::SetupLink).await?;
        tracing::info!("setup link used: the first admin is signed in");
        return Ok(HttpResponse::SeeOther()
            .cookie(cookie)
            .insert_header((header::LOCATION, next))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    if already_admin {
        // Opened twice in a browser that is signed in already: nothing to refuse.
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .finish());
    }
    let _ = auth::wrong_token(req, "setup link");
    let body = html! {
        h1 { "This setup link does not work" }
        p.error role="alert" { "It was used already, or it is older than an hour." }
        p {
            "Restart hubsync to print a new one (it prints one while no admin exists), or set "
            code { "HUBSYNC_ADMIN_TOKEN" } " and " a href="/login" { "log in" } " with it."
        }
    };
    Ok(layout::uncached(&mut HttpResponse::BadRequest())
        .body(layout::page("Setup link", None, None, body).into_string()))
}
