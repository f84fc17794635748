//! `/`: every installation and project, with each branch's state.
use actix_web::{get, web, HttpResponse};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::{
    first_run::{self, Progress},
    layout::{ago, commit_base, page_for, short},
    signed_in, to_login, PageError,
};
use crate::{
    http::{auth::Caller, ApiError, AppState},
    store::projects,
};

/// `?installation=ID`: the app's setup URL sent the installer here; the page reloads (a bounded
/// number of times) until that installation's repositories are listed.
#[derive(Deserialize)]
pub(crate) struct OverviewQuery {
    installation: Option<i64>,
    tries: Option<u32>,
}

/// Reloads after an install, every 2 s for a minute at most.
const MAX_TRIES: u32 = 30;

#[get("/")]
pub async fn page(
    caller: Result<Caller, ApiError>,
    state: web::Data<AppState>,
    q: web::Query<OverviewQuery>,
) -> Result<HttpResponse, PageError> {
    let progress = Progress::load(&state).await?;
    let Some(caller) = signed_in(caller)? else {
        if !progress.configured() {
            return Ok(first_run::anonymous(&state, &progress));
        }
        return Ok(to_login());
    };
    let csrf = caller.csrf();
    let all = caller
        .visible(&state, caller.projects(&state).await?)
        .await?;
    let waiting = q
        .installation
        .filter(|id| !all.iter().any(|p| p.installation.id == *id));
    let tries = q.tries.unwrap_or(0);
    // The first-run checklist, self-healing passes and outbox are the operator's business.
    let operator = caller.is_admin();
    let (healing, outbox) = match operator {
        true => (
            Some(super::healing::section(&state.db).await?),
            Some(super::outbox::section(&state.db).await?),
        ),
        false => (None, None),
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
        @if operator && !progress.done() {
            (first_run::checklist(&state, &progress, all.first().map(|p| p.project.id)))
        }
        @if let Some(id) = waiting {
            p.notice role="status" {
                @if tries < MAX_TRIES {
                    "Fetching the repositories of installation " (id) " from GitHub…"
                } @else {
                    "Installation " (id) " is not listed yet: its webhook or the next reconcile brings it. "
                    a href="/" { "Reload" }
                }
            }
        }
        h1 { "Projects" }
        @if let Some(login) = caller.login() {
            p.signed-in { "Signed in with GitHub as " strong { (login) } "." }
        }
        @if installations.is_empty() {
            @if operator {
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
        @if let Some(o) = outbox { (o) }
        @if let Some(h) = healing { (h) }
    };
    let mut html = page_for(
        "Projects",
        Some("/api/v1/events"),
        csrf.as_deref(),
        caller.is_admin(),
        body,
    )
    .into_string();
    if let Some(id) = waiting.filter(|_| tries < MAX_TRIES) {
        // No script needed (nor allowed inline): the head asks the browser to look again.
        let next = format!("/?installation={id}&tries={}", tries + 1);
        let refresh = format!("<meta http-equiv=\"refresh\" content=\"2; url={next}\">");
        html = html.replacen("</head>", &format!("{}</head>", PreEscaped(refresh).0), 1);
    }
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
