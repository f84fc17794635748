//! Projects, their branch selections, manual syncs and run history.
use std::collections::HashMap;

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    openapi::ErrorBody,
    views::{ProjectList, ProjectView, RunList, RunView},
};
use crate::{
    http::{auth::Caller, ApiError, AppState},
    store::{entities::project_syncs, projects::ProjectRecord, scoped},
    sync::requests,
};

/// The project, if this caller may see it: another project answers as a missing one would.
pub(crate) async fn find_for(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<ProjectRecord, ApiError> {
    caller.project(state, id).await
}

/// The project's synced (non-pattern) selection of `branch`, its default branch when None.
pub(crate) fn synced_branch<'a>(
    p: &'a ProjectRecord,
    branch: Option<&str>,
) -> Result<&'a project_syncs::Model, ApiError> {
    let branch = branch.unwrap_or(&p.repository.default_branch);
    p.selections
        .iter()
        .find(|s| !s.is_pattern && s.branch == branch)
        .ok_or_else(|| ApiError::NotFound(format!("branch {branch} is not synced in this project")))
}

/// Every project with its repository, installation and branch selections.
#[utoipa::path(tag = "projects", responses((status = 200, body = ProjectList)))]
#[get("/projects")]
async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all = caller
        .visible(&state, caller.projects(&state).await?)
        .await?;
    let projects: Vec<ProjectView> = all
        .iter()
        .map(|p| ProjectView::new(p, &state.config.github.web_url))
        .collect();
    Ok(HttpResponse::Ok().json(ProjectList { projects }))
}

/// One project.
#[utoipa::path(
    tag = "projects",
    params(("id" = i64, Path, description = "The project's id")),
    responses(
        (status = 200, body = ProjectView),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[get("/projects/{id}")]
async fn get(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let p = find_for(&state, &caller, *id).await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(&p, &state.config.github.web_url)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchSelection {
    /// Branch names and glob patterns (`release/*`; `**` crosses path segments).
    branches: Vec<String>,
}

/// Replaces the selection; newly selected branches are synced right away.
#[utoipa::path(
    tag = "projects",
    params(("id" = i64, Path, description = "The project's id")),
    request_body = BranchSelection,
    responses(
        (status = 200, description = "The project with its new selection", body = ProjectView),
        (status = 400, description = "An invalid branch name or pattern", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
#[put("/projects/{id}/branches")]
async fn set_branches(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<BranchSelection>,
) -> Result<HttpResponse, ApiError> {
    let p = caller.writable_project(&state, *id).await?;
    requests::apply_selection(&state.db, &state.nudge, &p, &body.branches).await?;
    let p = caller.project(&state, p.project.id).await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(&p, &state.config.github.web_url)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncRequest {
    /// A selected branch; absent (or no body at all): every selected branch.
    branch: Option<String>,
}

/// Queues a manual sync of one branch, or of every selected branch when no body is sent.
#[utoipa::path(
    tag = "syncs",
    params(("id" = i64, Path, description = "The project's id")),
    request_body(content = Option<SyncRequest>, description = "Optional: an empty body syncs every selected branch"),
    responses(
        (status = 202, description = "The queued runs", body = RunList),
        (status = 404, description = "No such project, or the branch is not selected", body = ErrorBody),
        (status = 409, description = "Syncing is stopped for this project", body = ErrorBody),
    )
)]
#[post("/projects/{id}/syncs")]
async fn sync_now(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let p = caller.writable_project(&state, *id).await?;
    let request: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest { branch: None }
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let queued: Vec<RunView> =
        requests::queue_sync(&state.db, &state.nudge, &p, request.branch.as_deref())
            .await?
            .into_iter()
            .map(|(run, branch)| RunView::new(run, &branch, Vec::new()))
            .collect();
    Ok(HttpResponse::Accepted().json(RunList { runs: queued }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// Only this branch's runs.
    branch: Option<String>,
    /// How many runs (default 50, at most 500).
    limit: Option<u64>,
}

/// Run history, newest first, each run with its attempts.
#[utoipa::path(
    tag = "syncs",
    params(("id" = i64, Path, description = "The project's id"), HistoryQuery),
    responses(
        (status = 200, body = RunList),
        (status = 404, description = "No such project, or the branch is not selected", body = ErrorBody),
    )
)]
#[get("/projects/{id}/syncs")]
async fn history(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = find_for(&state, &caller, *id).await?;
    let names: HashMap<i64, &str> = p
        .selections
        .iter()
        .filter(|s| !s.is_pattern && q.branch.as_deref().is_none_or(|b| b == s.branch))
        .map(|s| (s.id, s.branch.as_str()))
        .collect();
    if let (Some(b), true) = (&q.branch, names.is_empty()) {
        return Err(ApiError::NotFound(format!(
            "branch {b} is not selected in this project"
        )));
    }
    let ids: Vec<i64> = names.keys().copied().collect();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let scope = caller.scope(&state).await?;
    let (runs, mut attempts) = scoped::history(&state.db, &scope, &ids, limit).await?;
    let views: Vec<RunView> = runs
        .into_iter()
        .map(|r| {
            let b = names[&r.project_sync_id];
            let tried = attempts.remove(&r.id).unwrap_or_default();
            RunView::new(r, b, tried)
        })
        .collect();
    Ok(HttpResponse::Ok().json(RunList { runs: views }))
}
