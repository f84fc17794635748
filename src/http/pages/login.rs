//! Logging in with the admin token, and out.
use actix_web::{
    get, http::header, post, web, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError,
};
use maud::html;
use serde::Deserialize;

use super::{layout::page, signed_in};
use crate::http::{
    auth::{self, Admin},
    signin,
    viewer::Viewer,
    ApiError, AppState,
};

#[get("/login")]
async fn login_form(state: web::Data<AppState>) -> HttpResponse {
    render(&state, HttpResponse::Ok(), None)
}

fn render(state: &AppState, mut res: HttpResponseBuilder, error: Option<&str>) -> HttpResponse {
    let github = signin::available(state);
    let body = html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if github {
            p { a.button #signin-github href="/login/github" { "Sign in with GitHub" } }
            p { "You see the repositories GitHub lets you reach; admins of the organisation can change what is synced." }
        }
        form.login method="post" action="/login" {
            label for="token" { "Admin token (HUBSYNC_ADMIN_TOKEN)" }
            input #token type="password" name="token" autocomplete="current-password" required autofocus;
            button type="submit" { "Log in" }
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
        Err(e) => e.error_response(),
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
    viewer: Result<Viewer, ApiError>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, ApiError> {
    let viewer = signed_in(viewer)?;
    if let Some(v) = &viewer {
        v.check_csrf(&form.csrf)?;
    }
    // Admin and GitHub sessions alike end on the server.
    let admin = Admin {
        session: viewer.as_ref().and_then(|v| v.session().map(str::to_owned)),
    };
    let cookie = auth::logout(&req, &admin).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, "/login"))
        .finish())
}
