//! The pages of Sign in with GitHub: the redirect to GitHub, and the callback that opens the
//! session (or says, in HTML, why it could not).
use actix_web::{get, http::header, web, HttpRequest, HttpResponse};
use maud::html;

use super::layout::page;
use crate::http::{
    signin::{self, CallbackQuery, SigninError, FLOW_COOKIE},
    AppState,
};

#[get("/login/github")]
async fn start(state: web::Data<AppState>) -> HttpResponse {
    match signin::start(&state) {
        Ok(started) => HttpResponse::Found()
            .cookie(started.cookie)
            .insert_header((header::LOCATION, started.authorize_url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => failed(&state, e),
    }
}

#[get("/login/github/callback")]
async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<CallbackQuery>,
) -> HttpResponse {
    let flow = req.cookie(FLOW_COOKIE);
    match signin::finish(&state, flow.as_ref().map(|c| c.value()), &q).await {
        // A page, not a redirect: the session cookie is SameSite=Strict, and a redirect chain
        // that began on GitHub would not send it; a navigation from this page does.
        Ok(done) => super::layout::uncached(&mut HttpResponse::Ok())
            .cookie(done.session)
            .cookie(signin::clear_flow(&state))
            .body(
                page(
                    "Signed in",
                    None,
                    None,
                    html! {
                        meta http-equiv="refresh" content="0; url=/";
                        h1 { "Signed in as " (done.login) }
                        p { a #continue href="/" { "Continue to your projects" } }
                    },
                )
                .into_string(),
            ),
        Err(e) => failed(&state, e),
    }
}

fn failed(state: &AppState, e: SigninError) -> HttpResponse {
    if let SigninError::Internal(detail) = &e {
        tracing::error!(%detail, "sign-in failed");
    } else {
        tracing::info!(reason = %e, "sign-in refused");
    }
    let status = actix_web::http::StatusCode::from_u16(e.status())
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    super::layout::uncached(&mut HttpResponse::build(status))
        .cookie(signin::clear_flow(state))
        .body(
            page(
                "Sign-in failed",
                None,
                None,
                html! {
                    h1 { "Sign-in failed" }
                    p.error role="alert" { (e.to_string()) }
                    p { a href="/login" { "Back to the login page" } }
                },
            )
            .into_string(),
        )
}
