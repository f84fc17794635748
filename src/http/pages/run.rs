//! `/projects/{id}/runs/{run_id}`: one run in detail (what it synced, its timeline, what it cost)
//! and, for a failed run, a Retry button that queues a new run of its branch.
use actix_web::{get, post, web, HttpResponse};
use maud::html;
use serde::Deserialize;

use super::{
    layout::{ago, duration, page_for, respond, short},
    project::{find, find_writable},
    redirect,
    runs::{run_path, waiting},
    signed_in,
    timeline::timeline,
    to_login, PageError,
};
use crate::ids::{ProjectId, RepositoryId, RunId};
use crate::{
    http::{auth::Caller, ApiError, AppState},
    progress,
    store::{
        projects::ProjectRecord,
        runs::RunStatus,
        scoped::{self, RunDetail},
    },
    sync::requests,
};

/// The run `{run_id}` of project `{id}`, read in the caller's scope: a 404 page for a run of
/// another project, or outside the scope, too.
async fn find_run(
    state: &AppState,
    caller: &Caller,
    path: &(String, String),
    write: bool,
) -> Result<(ProjectRecord, RunDetail), PageError> {
    let p = match write {
        true => find_writable(state, caller, &path.0).await?,
        false => find(state, caller, &path.0).await?,
    };
    let missing = || {
        PageError::from(ApiError::NotFound(format!(
            "no run {} in project {}",
            path.1, p.project.id
        )))
    };
    let run_id: i64 = path.1.parse().map_err(|_| missing())?;
    let scope = caller.scope(state).await?;
    let repository = RepositoryId(p.repository.id);
    let detail = scoped::run(&state.db, &scope, run_id, repository)
        .await?
        .filter(|d| p.selections.iter().any(|s| s.id == d.run.project_sync_id))
        .ok_or_else(missing)?;
    Ok((p, detail))
}

#[get("/projects/{id}/runs/{run_id}")]
pub async fn page(
    caller: Result<Caller, ApiError>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let Some(caller) = signed_in(caller)? else {
        return Ok(to_login());
    };
    let (p, detail) = find_run(&state, &caller, &path, false).await?;
    let RunDetail {
        run,
        attempts: tries,
        events,
        commit,
    } = detail;
    let events = progress::timeline(&events);
    let can_change = caller.can_change(&state, &p).await?;
    let csrf = caller.csrf();
    let max = state.config.sync.max_attempts;
    let branch = p
        .selections
        .iter()
        .find(|s| s.id == run.project_sync_id)
        .map_or("?", |s| s.branch.as_str());
    let repo_url = format!("{}{}", state.config.github.web_url, p.repository.full_name);
    // GitHub's compare view of what the run brought in; a first sync has only its commit.
    let compare = match (&run.from_sha, &run.target_sha) {
        (Some(from), Some(to)) if from != to => Some((
            format!("{repo_url}/compare/{from}...{to}"),
            "Compare on GitHub",
        )),
        (_, Some(to)) => Some((format!("{repo_url}/commit/{to}"), "Commit on GitHub")),
        _ => None,
    };
    let project_path = format!("/projects/{}", p.project.id);
    let title = format!("Run {} · {}", run.id, p.repository.full_name);
    let body = html! {
        // data-run-page: app.js tells this run's events apart from the project's others.
        p.crumbs data-run-page=(run.id) { a href=(project_path) { (p.repository.full_name) } " › run " (run.id) }
        h1 { "Run " (run.id) " " span.state data-state=(run.status) { (run.status) } }
        @if let Some(w) = waiting(&run, max) { p.notice role="status" { "Failed, " (w) } }
        section.commit {
            @if let Some(c) = &commit {
                p.message { (c.message.lines().next().unwrap_or("")) }
                @let rest = c.message.lines().skip(1).collect::<Vec<_>>().join("\n");
                @if !rest.trim().is_empty() { pre.message-body { (rest.trim()) } }
                p.author {
                    @if let Some(name) = &c.author_name { (name) }
                    @if let Some(login) = &c.author_login { " (" a href=(format!("{}{login}", state.config.github.web_url)) { "@" (login) } ")" }
                    @if let Some(at) = c.committed_at { " committed " (ago(Some(at))) }
                }
            }
            p {
                "Branch " code { (branch) } ": "
                code { (run.from_sha.as_deref().map(short).unwrap_or("—")) } " → " code { (run.target_sha.as_deref().map(short).unwrap_or("head")) }
                @if let Some((href, label)) = &compare { " · " a href=(href) { (label) } }
            }
        }
        dl.facts {
            dt { "Trigger" } dd { (run.trigger) }
            dt { "Queued" } dd { (ago(Some(run.queued_at))) }
            dt { "Started" } dd { (ago(run.started_at)) }
            dt { "Finished" } dd { @if run.finished_at.is_some() { (ago(run.finished_at)) } @else { "not yet" } }
            dt { "Duration" } dd { (run.started_at.zip(run.finished_at).map(|(s, f)| duration(f - s)).unwrap_or_else(|| "—".into())) }
            dt { "Attempts" } dd { (run.attempt) " of at most " (max) }
            dt { "Files changed" } dd { (run.files_changed) " of " (run.files_total) }
            dt { "Files fetched" } dd { (run.files_fetched) " (" (run.bytes_fetched) " bytes)" }
            dt { "GitHub requests" } dd { (run.api_requests) }
            @if let Some(e) = &run.error { dt { "Error" } dd.error { (e) } }
        }
        @if can_change && run.status == RunStatus::Failed {
            form.retry method="post" action=(format!("{}/retry", run_path(ProjectId(p.project.id), RunId(run.id)))) {
                input type="hidden" name="csrf" value=(csrf.clone().unwrap_or_default());
                button #retry type="submit" { "Retry" }
                " queues a new run of " code { (branch) } "."
            }
        }
        h2 { "Timeline" }
        (timeline(&run, &tries, &events, max))
    };
    let events_url = format!("/projects/{}/events", p.project.id);
    let html = page_for(
        &title,
        Some(&events_url),
        csrf.as_deref(),
        caller.is_admin(),
        body,
    );
    Ok(respond(actix_web::http::StatusCode::OK, html))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// Queues a new run of a failed run's branch (folded into one already queued), then shows it.
#[post("/projects/{id}/runs/{run_id}/retry")]
pub(crate) async fn retry(
    caller: Result<Caller, ApiError>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let Some(caller) = signed_in(caller)? else {
        return Ok(to_login());
    };
    caller.check_csrf(&form.csrf)?;
    let (p, RunDetail { run, .. }) = find_run(&state, &caller, &path, true).await?;
    if run.status != RunStatus::Failed {
        return Err(PageError::from(ApiError::Conflict(format!(
            "run {} did not fail (it is {}): there is nothing to retry",
            run.id, run.status
        ))));
    }
    let branch = p
        .selections
        .iter()
        .find(|s| s.id == run.project_sync_id)
        .map(|s| s.branch.clone())
        .unwrap_or_default();
    let queued = requests::queue_sync(&state.db, &state.nudge, &p, Some(&branch)).await?;
    let to = queued.first().map_or_else(
        || format!("/projects/{}", p.project.id),
        |(r, _)| run_path(ProjectId(p.project.id), RunId(r.id)),
    );
    Ok(redirect(to))
}
