//! `/`: every installation and project, with each branch's state.
use actix_web::{get, web, HttpResponse};
use maud::{html, Markup};

use super::{
    layout::{ago, commit_base, page as frame, short},
    signed_in, to_login,
};
use crate::{
    http::{viewer::Viewer, ApiError, AppState},
    store::projects,
};

#[get("/")]
pub async fn page(
    viewer: Result<Viewer, ApiError>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(viewer) = signed_in(viewer)? else {
        return Ok(to_login());
    };
    let csrf = viewer.csrf();
    let all = viewer
        .visible(&state, projects::load_all(&state.db).await?)
        .await?;
    // The self-healing passes are the operator's business.
    let healing = match viewer.is_admin() {
        true => Some(super::healing::section(&state.db).await?),
        false => None,
    };
    let web = &state.config.github.web_url;
    let mut installations: Vec<(i64, String, Vec<&projects::ProjectRecord>)> = Vec::new();
    for p in &all {
        match installations
            .iter_mut()
            .find(|(id, _, _)| *id == p.installation.id)
        {
            Some((_, _, list)) => list.push(p),
            None => installations.push((
                p.installation.id,
                p.installation.account_login.clone(),
                vec![p],
            )),
        }
    }
    let body = html! {
        h1 { "Projects" }
        @if let Some(login) = viewer.login() {
            p.signed-in { "Signed in with GitHub as " strong { (login) } "." }
        }
        @if installations.is_empty() {
            @if viewer.is_admin() {
                p.empty { "No installation yet. Install the GitHub App on an organisation to start syncing." }
            } @else {
                p.empty { "No project you can see yet: GitHub lists no repository of this app's installations for you." }
            }
        }
        @for (id, account, list) in &installations {
            section.installation {
                h2 { (account) " " small { "installation " (id) } }
                table {
                    thead { tr { th { "Repository" } th { "Branch" } th { "State" } th { "Commit" } th { "When" } } }
                    tbody {
                        @for p in list {
                            @if !p.selections.iter().any(|s| !s.is_pattern && s.enabled) {
                                (unselected(p))
                            }
                            @for b in p.selections.iter().filter(|s| !s.is_pattern && s.enabled) {
                                @let repo_url = format!("{}{}", web, p.repository.full_name);
                                tr data-project=(p.project.id) data-branch=(b.branch) data-commit-url=(commit_base(&repo_url)) {
                                    td { a href=(format!("/projects/{}", p.project.id)) { (p.repository.full_name) } }
                                    td { (b.branch) }
                                    td { span.state data-state=(b.state) { (b.state) } }
                                    td.sha {
                                        @if let Some(sha) = &b.last_synced_sha {
                                            a href=(format!("{}{sha}", commit_base(&repo_url))) { code { (short(sha)) } }
                                        } @else { "—" }
                                    }
                                    td { (ago(b.last_synced_at)) }
                                }
                            }
                            @if let Some(reason) = p.stopped_because() {
                                tr.stopped { td { (p.repository.full_name) } td colspan="4" { "syncing stopped: " (reason) } }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(h) = healing { (h) }
    };
    let html = frame("Projects", Some("/api/v1/events"), csrf.as_deref(), body).into_string();
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// A project that syncs no branch (auto-selection off, an emptied selection, or patterns that
/// match nothing yet) is listed too, saying so.
fn unselected(p: &projects::ProjectRecord) -> Markup {
    let patterns: Vec<&str> = p
        .selections
        .iter()
        .filter(|s| s.is_pattern && s.enabled)
        .map(|s| s.branch.as_str())
        .collect();
    html! {
        tr.unselected data-project=(p.project.id) {
            td { a href=(format!("/projects/{}", p.project.id)) { (p.repository.full_name) } }
            td {
                @if patterns.is_empty() { "—" } @else {
                    @for (i, pattern) in patterns.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (pattern) }
                    }
                    " (matches no branch yet)"
                }
            }
            td { span.state data-state="none" { "no branch selected" } }
            td.sha { "—" }
            td { "—" }
        }
    }
}
