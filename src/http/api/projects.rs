//! Projects, their branch selections, manual syncs and run history.
use std::collections::HashMap;

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::views::{ProjectView, RunView};
use crate::{
    http::{viewer::Viewer, ApiError, AppState},
    store::{
        attempts,
        entities::project_syncs,
        projects::{self, ProjectRecord},
        runs,
    },
    sync::requests,
};

pub async fn find(state: &AppState, id: i64) -> Result<ProjectRecord, ApiError> {
    projects::load(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no project with id {id}")))
}

/// The project's synced (non-pattern) selection of `branch`, its default branch when None.
pub fn synced_branch<'a>(
    p: &'a ProjectRecord,
    branch: Option<&str>,
) -> Result<&'a project_syncs::Model, ApiError> {
    let branch = branch.unwrap_or(&p.repository.default_branch);
    p.selections
        .iter()
        .find(|s| !s.is_pattern && s.branch == branch)
        .ok_or_else(|| ApiError::NotFound(format!("branch {branch} is not synced in this project")))
}

#[get("/projects")]
async fn list(viewer: Viewer, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all = viewer
        .visible(&state, projects::load_all(&state.db).await?)
        .await?;
    let views: Vec<ProjectView> = all
        .iter()
        .map(|p| ProjectView::new(p, &state.config.github.web_url))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "projects": views })))
}

#[get("/projects/{id}")]
async fn get(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let p = viewer.project(&state, *id).await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(&p, &state.config.github.web_url)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchSelection {
    branches: Vec<String>,
}

/// Replaces the selection; newly selected branches are synced right away.
#[put("/projects/{id}/branches")]
async fn set_branches(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<BranchSelection>,
) -> Result<HttpResponse, ApiError> {
    let p = viewer.writable_project(&state, *id).await?;
    requests::apply_selection(&state.db, &state.nudge, &p, &body.branches).await?;
    let p = find(&state, p.project.id).await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(&p, &state.config.github.web_url)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncRequest {
    branch: Option<String>,
}

/// Queues a manual sync of one branch, or of every selected branch when no body is sent.
#[post("/projects/{id}/syncs")]
async fn sync_now(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let p = viewer.writable_project(&state, *id).await?;
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
    Ok(HttpResponse::Accepted().json(json!({ "runs": queued })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    branch: Option<String>,
    limit: Option<u64>,
}

#[get("/projects/{id}/syncs")]
async fn history(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = viewer.project(&state, *id).await?;
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
    let runs = runs::history(&state.db, &ids, limit).await?;
    let run_ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    let mut attempts = attempts::of_runs(&state.db, &run_ids).await?;
    let views: Vec<RunView> = runs
        .into_iter()
        .map(|r| {
            let b = names[&r.project_sync_id];
            let tried = attempts.remove(&r.id).unwrap_or_default();
            RunView::new(r, b, tried)
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "runs": views })))
}
