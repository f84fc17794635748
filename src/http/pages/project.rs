//! `/projects/{id}`: branches with live progress, retries and waits, the run history, "Sync now",
//! the selection editor and the "Use this data" panel.
use actix_web::{get, http::StatusCode, web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};

use super::{
    layout::{ago, commit_base, page_for, respond, seconds, short},
    runs, signed_in, to_login, PageError,
};
use crate::ids::{ProjectId, RunId};
use crate::{
    http::{auth::Caller, ApiError, AppState},
    store::{entities::sync_runs, projects::ProjectRecord, runs as run_store, scoped},
};

const HISTORY: u64 = 30;

/// A form's refusal, shown beside that form (and what was typed, kept).
pub(super) enum FormError {
    Sync(String),
    Selection { message: String, typed: String },
}

#[get("/projects/{id}")]
pub async fn page(
    caller: Result<Caller, ApiError>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let Some(caller) = signed_in(caller)? else {
        return Ok(to_login());
    };
    let p = find(&state, &caller, &id).await?;
    render(&state, &caller, &p, None).await
}

fn page_id(id: &str) -> Result<i64, PageError> {
    id.parse()
        .map_err(|_| PageError::from(ApiError::NotFound(format!("no project with id {id}"))))
}

/// The project of a page's `{id}`, if this caller may see it: a 404 page for anything else.
pub(super) async fn find(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ProjectRecord, PageError> {
    Ok(caller.project(state, page_id(id)?).await?)
}

/// The project of a page's `{id}`, if this caller may change it (404 when invisible, 403 when
/// read-only).
pub(super) async fn find_writable(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ProjectRecord, PageError> {
    Ok(caller.writable_project(state, page_id(id)?).await?)
}

/// The page, with a form's refusal when `error` is set (and its status: 400, 409...).
pub(super) async fn render(
    state: &AppState,
    caller: &Caller,
    p: &ProjectRecord,
    error: Option<(StatusCode, FormError)>,
) -> Result<HttpResponse, PageError> {
    let can_change = caller.can_change(state, p).await?;
    let session_csrf = caller.csrf();
    let csrf = session_csrf.clone().unwrap_or_default();
    let ids = p.branch_ids();
    let scope = caller.scope(state).await?;
    let (history, tries) = scoped::history(&state.db, &scope, &ids, HISTORY).await?;
    let branch_of = |sel: i64| {
        p.selections
            .iter()
            .find(|s| s.id == sel)
            .map_or_else(|| "?".to_owned(), |s| s.branch.clone())
    };
    let max = state.config.sync.max_attempts;
    let repo_url = format!("{}{}", state.config.github.web_url, p.repository.full_name);
    let events = format!("/projects/{}/events", p.project.id);
    let without_content = super::skipped::section(&state.db, &scope, p).await?;
    let paused = state
        .github
        .app()
        .map(|a| a.paused_for(p.installation.id))
        .unwrap_or_default();
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let (sync_error, selection_error, typed) = match error {
        Some(FormError::Sync(m)) => (Some(m), None, None),
        Some(FormError::Selection { message, typed }) => (None, Some(message), Some(typed)),
        None => (None, None, None),
    };
    let body = html! {
        h1 { a href=(repo_url) { (p.repository.full_name) } }
        @if let Some(reason) = p.stopped_because() { p.error role="alert" { "Syncing is stopped: " (reason) } }
        @if !paused.is_zero() {
            p.notice.rate-limit role="status" {
                "GitHub's rate limit for this installation is spent: its requests wait "
                (seconds(paused.as_secs() as i64)) " for the quota to reset."
            }
        }
        (branches(p, &repo_url, &history, max))
        (without_content)
        @if !can_change {
            p.read-only { "You can read this project. Admins of " (p.installation.account_login) " on GitHub can change its selection and start syncs." }
        }
        @if can_change {
            form.inline method="post" action=(format!("/projects/{}/sync", p.project.id)) {
                input type="hidden" name="csrf" value=(csrf);
                button #sync-now type="submit" { "Sync now" }
                @if let Some(m) = &sync_error { p.error.form-error role="alert" { (m) } }
            }
        }
        h2 { "Branch selection" }
        @if can_change {
            form.selection method="post" action=(format!("/projects/{}/branches", p.project.id)) {
                input type="hidden" name="csrf" value=(csrf);
                label for="branches" { "One branch name or pattern per line (" code { "release/*" } ")" }
                @if let Some(m) = &selection_error { p #branches-error.error.form-error role="alert" { (m) } }
                textarea #branches name="branches" rows="4" aria-describedby=[selection_error.as_ref().map(|_| "branches-error")] {
                    @match &typed {
                        Some(t) => (t),
                        None => (selected_lines(p)),
                    }
                }
                button type="submit" { "Save selection" }
            }
        } @else {
            ul.selection { @for s in p.selections.iter().filter(|s| s.enabled) { li { code { (s.branch) } } } }
        }
        h2 { "Runs" }
        (runs::table(p.project.id, &history, &branch_of, &tries, max))
        (super::data::panel(state.public_url.as_str(), p))
    };
    let html = page_for(
        &p.repository.full_name,
        Some(&events),
        session_csrf.as_deref(),
        caller.is_admin(),
        body,
    );
    Ok(respond(status, html))
}

/// The selection as the editor shows it: names and patterns, without branches a pattern covers.
fn selected_lines(p: &ProjectRecord) -> String {
    let mut out = String::new();
    for s in p.selections.iter().filter(|s| s.enabled) {
        let covered = p
            .selections
            .iter()
            .any(|x| x.is_pattern && x.enabled && pattern_matches(&x.branch, &s.branch));
        if s.is_pattern || !covered {
            out.push_str(&s.branch);
            out.push('\n');
        }
    }
    out
}

fn pattern_matches(pattern: &str, branch: &str) -> bool {
    match (
        crate::git::Selector::parse(pattern),
        crate::git::BranchName::parse(branch),
    ) {
        (Ok(s), Ok(b)) => s.is_pattern() && s.matches(&b),
        _ => false,
    }
}

fn branches(p: &ProjectRecord, repo_url: &str, history: &[sync_runs::Model], max: i32) -> Markup {
    let now = Utc::now();
    html! {
        div.table-wrap {
            table.branches {
                thead { tr { th { "Branch" } th { "State" } th { "Progress" } th { "Commit" } th.opt { "When" } } }
                tbody {
                    @for b in p.selections.iter().filter(|s| !s.is_pattern) {
                        @let queued = history.iter().find(|r| r.project_sync_id == b.id && r.status == run_store::RunStatus::Queued);
                        tr data-project=(p.project.id) data-branch=(b.branch) data-commit-url=(commit_base(repo_url)) class=[(!b.enabled).then_some("disabled")] {
                            td { (b.branch) @if !b.enabled { " (not selected)" } }
                            td {
                                span.state data-state=(b.state) { (b.state) }
                                span.waiting {
                                    @if let Some(w) = queued.and_then(|r| runs::waiting(r, max)) {
                                        " " (w)
                                        @if let Some(e) = queued.and_then(|r| r.error.as_deref()) { br; small.reason { (e) } }
                                    } @else if let Some(r) = queued.filter(|r| r.not_before.is_none_or(|t| t <= now)) {
                                        " " a href=(runs::run_path(ProjectId(p.project.id), RunId(r.id))) { "run " (r.id) }
                                    }
                                }
                            }
                            td.progress { progress.bar max="1" value="0" hidden {} " " span.count {} }
                            td.sha {
                                @if let Some(sha) = &b.last_synced_sha {
                                    a href=(format!("{}{sha}", commit_base(repo_url))) { code { (short(sha)) } }
                                } @else { "—" }
                            }
                            td.opt { (ago(b.last_synced_at)) }
                        }
                    }
                }
            }
        }
    }
}
