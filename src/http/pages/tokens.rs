//! `/tokens`: the admin's API tokens screen: create one (shown once, with a copy button), see
//! each token's scope, project and last use, revoke one.
use actix_web::{get, post, web, HttpResponse, HttpResponseBuilder};
use maud::{html, Markup};
use serde::Deserialize;

use super::{
    layout::{ago, page as frame},
    redirect, signed_in, to_login,
};
use crate::{
    http::{
        api::tokens::{mint, CreateToken},
        auth::Admin,
        csrf, ApiError, AppState,
    },
    store::{
        projects,
        tokens::{self, TokenScope},
    },
};

#[get("/tokens")]
pub(crate) async fn page(
    admin: Result<Admin, ApiError>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(admin) = signed_in(admin)? else {
        return Ok(to_login());
    };
    render(&state, &admin, HttpResponse::Ok(), None).await
}

/// The screen; `banner` is a just-created token (shown once) or an error.
async fn render(
    state: &AppState,
    admin: &Admin,
    mut res: HttpResponseBuilder,
    banner: Option<Markup>,
) -> Result<HttpResponse, ApiError> {
    let csrf = admin.session.as_deref().map(csrf::csrf_token);
    let form_csrf = csrf.clone().unwrap_or_default();
    let list = tokens::list(&state.db).await?;
    let all = projects::load_all(&state.db).await?;
    let project_name = |id: i64| {
        all.iter().find(|p| p.project.id == id).map_or_else(
            || format!("project {id}"),
            |p| p.repository.full_name.clone(),
        )
    };
    let body = html! {
        h1 { "API tokens" }
        p { "For downstream tools: send " code { "Authorization: Bearer hs_…" } " to " code { "/api/v1" } ". "
            code { "read" } " reads everything (projects, files, events, changes); " code { "write" }
            " also changes branch selections and starts syncs. Limited to a project, a token sees nothing else." }
        @if let Some(b) = banner { (b) }
        h2 { "New token" }
        form.token-form method="post" action="/tokens" {
            input type="hidden" name="csrf" value=(form_csrf);
            label { "Name " input name="name" required maxlength="100" placeholder="code search"; }
            label { "Scope "
                select name="scope" { option value="read" selected { "read" } option value="write" { "write" } }
            }
            label { "Project "
                select name="project_id" {
                    option value="" { "all projects" }
                    @for p in &all { option value=(p.project.id) { (p.repository.full_name) } }
                }
            }
            label { "Expires in days " input name="expires_in_days" type="number" min="1" max="3650" placeholder="never"; }
            button type="submit" { "Create token" }
        }
        h2 { "Tokens" }
        @if list.is_empty() { p.empty { "No API tokens yet." } }
        @else {
            table.tokens {
                thead { tr { th { "Name" } th { "Scope" } th { "Project" } th { "Created" } th { "Last used" } th { "Expires" } th {} } }
                tbody {
                    @for t in &list {
                        tr data-token=(t.id) {
                            td { (t.name) }
                            td { (t.scope) }
                            td { @match t.project_id { Some(id) => (project_name(id)), None => "all" } }
                            td { (ago(Some(t.created_at))) }
                            td { (ago(t.last_used_at)) }
                            td {
                                @match t.expires_at {
                                    None => "never",
                                    Some(e) if e <= chrono::Utc::now() => span.error { "expired" },
                                    Some(e) => (e.format("%Y-%m-%d").to_string()),
                                }
                            }
                            td {
                                form.inline method="post" action=(format!("/tokens/{}/revoke", t.id)) {
                                    input type="hidden" name="csrf" value=(form_csrf);
                                    button type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        script src="/static/tokens.js" defer {}
    };
    Ok(super::layout::uncached(&mut res)
        .body(frame("API tokens", None, csrf.as_deref(), body).into_string()))
}

#[derive(Deserialize)]
struct CreateForm {
    csrf: String,
    name: String,
    scope: TokenScope,
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    expires_in_days: String,
}

/// An empty field is "not given"; anything else must be a number.
fn optional<T: std::str::FromStr>(raw: &str, what: &str) -> Result<Option<T>, ApiError> {
    match raw.trim() {
        "" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{what} must be a number"))),
    }
}

#[post("/tokens")]
pub(crate) async fn create(
    admin: Result<Admin, ApiError>,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(admin) = signed_in(admin)? else {
        return Ok(to_login());
    };
    csrf::check_csrf(admin.session.as_deref(), &form.csrf)?;
    let minted = async {
        let req = CreateToken {
            name: form.name.clone(),
            scope: form.scope,
            project_id: optional(&form.project_id, "project")?,
            expires_in_days: optional(&form.expires_in_days, "expires in days")?,
        };
        mint(&state, &req).await
    }
    .await;
    match minted {
        Ok((row, token)) => {
            let banner = html! {
                div.notice.new-token role="status" {
                    p { "Token " strong { (row.name) } " created. Copy it now: it is not shown again." }
                    input #new-token readonly value=(token.expose()) aria-label="the new token";
                    " " button type="button" data-copy="new-token" { "Copy" }
                }
            };
            render(&state, &admin, HttpResponse::Created(), Some(banner)).await
        }
        Err(ApiError::BadRequest(m) | ApiError::Conflict(m)) => {
            let banner = html! { p.error role="alert" { (m) } };
            render(&state, &admin, HttpResponse::BadRequest(), Some(banner)).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[post("/tokens/{id}/revoke")]
pub(crate) async fn revoke(
    admin: Result<Admin, ApiError>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(admin) = signed_in(admin)? else {
        return Ok(to_login());
    };
    csrf::check_csrf(admin.session.as_deref(), &form.csrf)?;
    tokens::revoke(&state.db, *id).await?;
    tracing::info!(token_id = *id, "API token revoked");
    Ok(redirect("/tokens".to_owned()))
}
