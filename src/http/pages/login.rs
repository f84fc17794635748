//! Logging in with the admin token, and out.
use actix_web::{
    get, http::header, post, web, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError,
};
use maud::html;
use serde::Deserialize;

use super::{first_run, layout::page, signed_in, PageError};
use crate::http::{
    auth::{self, Caller},
    signin, ApiError, AppState,
};

#[get("/login")]
async fn login_form(state: web::Data<AppState>) -> HttpResponse {
    render(&state, HttpResponse::Ok(), None)
}

/// Without an admin token there is nothing to type in: the page says how to sign in instead
/// (with GitHub, when its OAuth client is set, or the first run's setup link).
fn render(state: &AppState, mut res: HttpResponseBuilder, error: Option<&str>) -> HttpResponse {
    let has_token = state.config.admin_token.is_some();
    let github = signin::available(state);
    let body = html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if github {
            p { a.button #signin-github href="/login/github" { "Sign in with GitHub" } }
            p { "You see the repositories GitHub lets you reach; admins of the organisation can change what is synced." }
        }
        @if has_token {
            form.login method="post" action="/login" {
                label for="token" { "Admin token (HUBSYNC_ADMIN_TOKEN)" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Log in" }
            }
        } @else if !github {
            p { "No admin token is set (" code { "HUBSYNC_ADMIN_TOKEN" } "), so there is no password to type here." }
            (first_run::sign_in_help(false))
        }
    };
    res.content_type("text/html; charset=utf-8")
        .body(page("Log in", None, None, body).into_string())
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

#[post("/login")]
async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    match auth::login(&req, &form.token).await {
        Ok(cookie) => HttpResponse::SeeOther()
            .cookie(cookie)
            .insert_header((header::LOCATION, "/"))
            .finish(),
        // The form again, with the refusal's status (401, or 429 and its Retry-After).
        Err(e @ (ApiError::Unauthorized(_) | ApiError::TooManyRequests { .. })) => {
            let mut res = HttpResponse::build(e.status_code());
            if let Some(wait) = e.error_response().headers().get(header::RETRY_AFTER) {
                res.insert_header((header::RETRY_AFTER, wait.clone()));
            }
            render(&state, res, Some(&e.to_string()))
        }
        Err(e) => PageError::from(e).error_response(),
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session on the server, so that a copy of the cookie stops working too.
#[post("/logout")]
async fn logout(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, PageError> {
    let caller = signed_in(caller)?;
    if let Some(c) = &caller {
        c.check_csrf(&form.csrf)?;
    }
    // Admin and GitHub sessions alike end on the server.
    let session = caller.as_ref().and_then(Caller::session);
    let cookie = auth::logout(&req, session).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, "/login"))
        .finish())
}
