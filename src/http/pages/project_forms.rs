//! The project page's forms: "Sync now" and the selection editor. A refusal of what was asked
//! (a bad branch name, a stopped project) shows the page again with the message beside the form;
//! a refused request (no CSRF token, another site) is an error page.
use actix_web::{http::StatusCode, post, web, HttpResponse, ResponseError};
use serde::Deserialize;

use super::{
    project::{find_writable, render, FormError},
    redirect, signed_in, to_login, PageError,
};
use crate::{
    http::{auth::Caller, ApiError, AppState},
    sync::requests::{self, RequestError},
};

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// The status and message of a refused request, or the error that is not about the form.
fn refusal(e: RequestError) -> Result<(StatusCode, String), PageError> {
    let e = ApiError::from(e);
    match e {
        ApiError::BadRequest(_) | ApiError::NotFound(_) | ApiError::Conflict(_) => {
            Ok((e.status_code(), e.to_string()))
        }
        e => Err(PageError::from(e)),
    }
}

#[post("/projects/{id}/sync")]
pub(crate) async fn sync_now(
    caller: Result<Caller, ApiError>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let Some(caller) = signed_in(caller)? else {
        return Ok(to_login());
    };
    caller.check_csrf(&form.csrf)?;
    let p = find_writable(&state, &caller, &id).await?;
    match requests::queue_sync(&state.db, &state.nudge, &p, None).await {
        Ok(_) => Ok(redirect(format!("/projects/{}", p.project.id))),
        Err(e) => {
            let (status, message) = refusal(e)?;
            render(
                &state,
                &caller,
                &p,
                Some((status, FormError::Sync(message))),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct SelectionForm {
    csrf: String,
    branches: String,
}

#[post("/projects/{id}/branches")]
pub(crate) async fn set_branches(
    caller: Result<Caller, ApiError>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<SelectionForm>,
) -> Result<HttpResponse, PageError> {
    let Some(caller) = signed_in(caller)? else {
        return Ok(to_login());
    };
    caller.check_csrf(&form.csrf)?;
    let p = find_writable(&state, &caller, &id).await?;
    let wanted: Vec<String> = form
        .branches
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    match requests::apply_selection(&state.db, &state.nudge, &p, &wanted).await {
        Ok(()) => Ok(redirect(format!("/projects/{}", p.project.id))),
        Err(e) => {
            let (status, message) = refusal(e)?;
            let typed = form.into_inner().branches;
            let error = FormError::Selection { message, typed };
            render(&state, &caller, &p, Some((status, error))).await
        }
    }
}
