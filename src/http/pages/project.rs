//! `/projects/{id}`: branches with live progress, the run history, "Sync now" and the selection
//! editor.
use actix_web::{get, post, web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::{
    layout::{ago, commit_base, page as frame, short},
    redirect, refused, signed_in, to_login,
};
use crate::{
    http::{viewer::Viewer, ApiError, AppState},
    store::{
        attempts,
        entities::{sync_run_attempts, user_repositories::Role},
        projects::ProjectRecord,
        runs,
    },
    sync::requests,
};

const HISTORY: u64 = 30;

#[get("/projects/{id}")]
pub async fn page(
    viewer: Result<Viewer, ApiError>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let Some(viewer) = signed_in(viewer)? else {
        return Ok(to_login());
    };
    let p = viewer.project(&state, *id).await?;
    let can_change = viewer.role(&state, &p).await? == Some(Role::Admin);
    let session_csrf = viewer.csrf();
    let csrf = session_csrf.clone().unwrap_or_default();
    let ids: Vec<i64> = p
        .selections
        .iter()
        .filter(|s| !s.is_pattern)
        .map(|s| s.id)
        .collect();
    let history = runs::history(&state.db, &ids, HISTORY).await?;
    let run_ids: Vec<i64> = history.iter().map(|r| r.id).collect();
    let tries = attempts::of_runs(&state.db, &run_ids).await?;
    let branch_of = |sel: i64| {
        p.selections
            .iter()
            .find(|s| s.id == sel)
            .map(|s| s.branch.as_str())
            .unwrap_or("?")
    };
    let web = &state.config.github.web_url;
    let repo_url = format!("{web}{}", p.repository.full_name);
    let events = format!("/projects/{}/events", p.project.id);
    let without_content = super::skipped::section(&state.db, &p).await?;
    let body = html! {
        h1 { a href=(repo_url) { (p.repository.full_name) } }
        @if let Some(reason) = p.stopped_because() { p.error { "Syncing is stopped: " (reason) } }
        (branches(&p, &repo_url))
        (without_content)
        @if !can_change {
            p.read-only { "You can read this project. Admins of " (p.installation.account_login) " on GitHub can change its selection and start syncs." }
        }
        @if can_change {
            form.inline method="post" action=(format!("/projects/{}/sync", p.project.id)) {
                input type="hidden" name="csrf" value=(csrf);
                button #sync-now type="submit" { "Sync now" }
            }
        }
        h2 { "Branch selection" }
        @if can_change {
            form.selection method="post" action=(format!("/projects/{}/branches", p.project.id)) {
                input type="hidden" name="csrf" value=(csrf);
                label for="branches" { "One branch name or pattern per line (" code { "release/*" } ")" }
                textarea #branches name="branches" rows="4" {
                    @for s in p.selections.iter().filter(|s| s.enabled && (s.is_pattern || !p.selections.iter().any(|x| x.is_pattern && x.enabled && pattern_matches(&x.branch, &s.branch)))) {
                        (s.branch) "\n"
                    }
                }
                button type="submit" { "Save selection" }
            }
        } @else {
            ul.selection { @for s in p.selections.iter().filter(|s| s.enabled) { li { code { (s.branch) } } } }
        }
        h2 { "Runs" }
        table.runs {
            thead { tr { th { "#" } th { "Branch" } th { "Trigger" } th { "Status" } th { "From → to" } th { "Changed" } th { "Fetched" } th { "Requests" } th { "Duration" } th { "Error" } } }
            tbody {
                @for r in &history {
                    // Cell classes are what app.js fills in for runs that start after the page loaded.
                    tr data-run=(r.id) {
                        td.run { (r.id) }
                        td.branch { (branch_of(r.project_sync_id)) }
                        td.trigger { (r.trigger) }
                        td.status { span.state data-state=(r.status) { (r.status) } }
                        td.shas { code { (r.from_sha.as_deref().map(short).unwrap_or("—")) } " → " code { (r.target_sha.as_deref().map(short).unwrap_or("head")) } }
                        td.changed { (r.files_changed) " / " (r.files_total) }
                        td.fetched { (r.files_fetched) }
                        td.requests { (r.api_requests) }
                        td.duration { (r.started_at.zip(r.finished_at).map(|(s, f)| format!("{} ms", (f - s).num_milliseconds())).unwrap_or_default()) }
                        td.error {
                            (r.error.as_deref().unwrap_or(""))
                            @if let Some(list) = tries.get(&r.id).filter(|l| l.len() > 1) {
                                details.attempts {
                                    summary { (list.len()) " attempts" }
                                    ol { @for a in list { li { (attempt_line(a)) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let html = frame(
        &p.repository.full_name,
        Some(&events),
        session_csrf.as_deref(),
        body,
    )
    .into_string();
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// `failed · 1200 ms · GitHub answered 502 ...`
fn attempt_line(a: &sync_run_attempts::Model) -> String {
    let mut line = a.status.clone();
    if let Some(f) = a.finished_at {
        line.push_str(&format!(" · {} ms", (f - a.started_at).num_milliseconds()));
    }
    if let Some(e) = &a.error {
        line.push_str(" · ");
        line.push_str(e);
    }
    line
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

fn branches(p: &ProjectRecord, repo_url: &str) -> Markup {
    html! {
        table.branches {
            thead { tr { th { "Branch" } th { "State" } th { "Progress" } th { "Commit" } th { "When" } } }
            tbody {
                @for b in p.selections.iter().filter(|s| !s.is_pattern) {
                    tr data-project=(p.project.id) data-branch=(b.branch) data-commit-url=(commit_base(repo_url)) class=[(!b.enabled).then_some("disabled")] {
                        td { (b.branch) @if !b.enabled { " (not selected)" } }
                        td { span.state data-state=(b.state) { (b.state) } }
                        td.progress { progress.bar max="1" value="0" hidden {} " " span.count {} }
                        td.sha {
                            @if let Some(sha) = &b.last_synced_sha {
                                a href=(format!("{}{sha}", commit_base(repo_url))) { code { (short(sha)) } }
                            } @else { "—" }
                        }
                        td { (ago(b.last_synced_at)) }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[post("/projects/{id}/sync")]
pub(crate) async fn sync_now(
    viewer: Result<Viewer, ApiError>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(viewer) = signed_in(viewer)? else {
        return Ok(to_login());
    };
    viewer.check_csrf(&form.csrf)?;
    let p = match viewer.writable_project(&state, *id).await {
        Ok(p) => p,
        Err(e @ ApiError::Forbidden(_)) => return Ok(refused(e)),
        Err(e) => return Err(e),
    };
    requests::queue_sync(&state.db, &state.nudge, &p, None).await?;
    Ok(redirect(format!("/projects/{}", p.project.id)))
}

#[derive(Deserialize)]
struct SelectionForm {
    csrf: String,
    branches: String,
}

#[post("/projects/{id}/branches")]
pub(crate) async fn set_branches(
    viewer: Result<Viewer, ApiError>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<SelectionForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(viewer) = signed_in(viewer)? else {
        return Ok(to_login());
    };
    viewer.check_csrf(&form.csrf)?;
    let p = match viewer.writable_project(&state, *id).await {
        Ok(p) => p,
        Err(e @ ApiError::Forbidden(_)) => return Ok(refused(e)),
        Err(e) => return Err(e),
    };
    let wanted: Vec<String> = form
        .branches
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    requests::apply_selection(&state.db, &state.nudge, &p, &wanted).await?;
    Ok(redirect(format!("/projects/{}", p.project.id)))
}
