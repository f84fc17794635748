//! Logging in with the admin token, and out.
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;

use super::layout::page;
use crate::http::{auth, ApiError};

#[get("/login")]
async fn login_form() -> HttpResponse {
    render(None)
}

fn render(error: Option<&str>) -> HttpResponse {
    let body = html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.login method="post" action="/login" {
            label for="token" { "Admin token (HUBSYNC_ADMIN_TOKEN)" }
            input #token type="password" name="token" autocomplete="current-password" required autofocus;
            button type="submit" { "Log in" }
        }
    };
    let status = if error.is_some() {
        actix_web::http::StatusCode::UNAUTHORIZED
    } else {
        actix_web::http::StatusCode::OK
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page("Log in", None, body).into_string())
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

#[post("/login")]
async fn login_submit(req: HttpRequest, form: web::Form<LoginForm>) -> HttpResponse {
    match auth::login(&req, &form.token) {
        Ok(cookie) => HttpResponse::SeeOther()
            .cookie(cookie)
            .insert_header(("location", "/"))
            .finish(),
        Err(ApiError::Unauthorized(reason)) => render(Some(&reason)),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

#[post("/logout")]
async fn logout() -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(auth::logout_cookie())
        .insert_header(("location", "/login"))
        .finish()
}
