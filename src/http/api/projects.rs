//! Projects, their branch selections, manual syncs and run history.
use std::collections::HashMap;

use actix_web::{get, post, put, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::views::{ProjectView, RunView};
use crate::{
    git::{BranchName, Selector},
    http::{auth::Admin, ApiError, AppState},
    progress,
    store::{
        attempts,
        projects::{self, ProjectRecord},
        runs::{self, Trigger},
    },
    sync::intake,
};

const MAX_SELECTORS: usize = 100;

pub async fn find(state: &AppState, id: i64) -> Result<ProjectRecord, ApiError> {
    projects::load(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no project with id {id}")))
}

#[get("/projects")]
async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all = projects::load_all(&state.db).await?;
    let views: Vec<ProjectView> = all
        .iter()
        .map(|p| ProjectView::new(p, &state.config.github.web_url))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "projects": views })))
}

#[get("/projects/{id}")]
async fn get(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let p = find(&state, *id).await?;
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
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<BranchSelection>,
) -> Result<HttpResponse, ApiError> {
    let p = find(&state, *id).await?;
    apply_selection(&state, &p, &body.branches).await?;
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
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let p = find(&state, *id).await?;
    let request: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest { branch: None }
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let queued = queue_sync(&state, &p, request.branch.as_deref()).await?;
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
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = find(&state, *id).await?;
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

/// Replaces a project's selection with these names and patterns (shared by the API and the page).
pub async fn apply_selection(
    state: &AppState,
    p: &ProjectRecord,
    raw: &[String],
) -> Result<(), ApiError> {
    if raw.len() > MAX_SELECTORS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_SELECTORS} branches and patterns"
        )));
    }
    let mut wanted: Vec<Selector> = Vec::new();
    for entry in raw {
        let s =
            Selector::parse(entry).map_err(|e| ApiError::BadRequest(format!("branches: {e}")))?;
        if !wanted.contains(&s) {
            wanted.push(s);
        }
    }
    let txn = crate::store::begin_write(&state.db).await?;
    let enabled = crate::store::selections::set_selection(&txn, p.project.id, &wanted).await?;
    if p.stopped_because().is_none() {
        for sel in &enabled {
            intake::enqueue(&txn, p.project.id, sel, Trigger::Selection, None).await?;
        }
    }
    let names: Vec<&str> = wanted.iter().map(Selector::as_str).collect();
    progress::record(
        &txn,
        p.project.id,
        None,
        progress::SELECTION_CHANGED,
        json!({ "branches": names }),
    )
    .await?;
    txn.commit().await?;
    state.nudge.nudge();
    Ok(())
}

/// Queues a manual sync of one selected branch, or of all of them.
pub async fn queue_sync(
    state: &AppState,
    p: &ProjectRecord,
    branch: Option<&str>,
) -> Result<Vec<RunView>, ApiError> {
    if let Some(reason) = p.stopped_because() {
        return Err(ApiError::Conflict(format!(
            "syncing is stopped for this project: {reason}"
        )));
    }
    let targets: Vec<_> = match branch {
        Some(raw) => {
            let branch =
                BranchName::parse(raw).map_err(|e| ApiError::BadRequest(format!("branch: {e}")))?;
            let sel = p
                .selections
                .iter()
                .find(|s| !s.is_pattern && s.enabled && s.branch == branch.as_str())
                .ok_or_else(|| {
                    ApiError::NotFound(format!("branch {branch} is not selected in this project"))
                })?;
            vec![sel]
        }
        None => p
            .selections
            .iter()
            .filter(|s| !s.is_pattern && s.enabled && s.deleted_at.is_none())
            .collect(),
    };
    let txn = crate::store::begin_write(&state.db).await?;
    if branch.is_none() {
        // Every branch: patterns look for new matches too (in the background).
        crate::store::selections::relist_patterns(&txn, p.project.id).await?;
    }
    let mut queued = Vec::new();
    for sel in targets {
        let q = intake::enqueue(&txn, p.project.id, sel, Trigger::Manual, None).await?;
        queued.push(RunView::new(q.run, &sel.branch, Vec::new()));
    }
    txn.commit().await?;
    state.nudge.nudge();
    Ok(queued)
}
