//! `GET /api/v1/projects/{id}/synced?branch=B&sha=SHA&timeout=SECONDS`: answers 200 once a run
//! synced that commit or a head containing it, else a 504 when the timeout passes, so
//! `curl --fail` works as a CI step. Woken by the hub when runs succeed, on any replica.
use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::projects::synced_branch;
use crate::{
    git::Sha,
    http::{viewer::Viewer, ApiError, AppState},
    progress,
    store::commits,
};

/// The longest one request waits; a CI step that needs longer asks again.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncedQuery {
    branch: Option<String>,
    sha: Option<String>,
    timeout: Option<f64>,
}

#[get("/projects/{id}/synced")]
async fn synced(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<SyncedQuery>,
) -> Result<HttpResponse, ApiError> {
    let raw = q
        .sha
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest("sha is required".into()))?;
    let sha = Sha::parse(raw.trim().to_ascii_lowercase().as_str())
        .map_err(|_| ApiError::BadRequest(format!("sha {raw:?} is not a 40-digit commit sha")))?;
    let timeout = match q.timeout {
        None => DEFAULT_TIMEOUT,
        Some(t) if t.is_finite() && t >= 0.0 => Duration::from_secs_f64(t).min(MAX_TIMEOUT),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "timeout must be a number of seconds (at most 600)".into(),
            ))
        }
    };
    let p = viewer.project(&state, *id).await?;
    let sel = synced_branch(&p, q.branch.as_deref())?.clone();
    let branch = sel.branch.clone();
    let deadline = Instant::now() + timeout;
    // Subscribed before the first look, so a run that succeeds right after it wakes the wait.
    let mut live = state.hub.subscribe();
    loop {
        let found = commits::synced_head(&state.db, sel.id, p.repository.id, &branch, &sha).await?;
        if let Some((head, run_id)) = found {
            return Ok(HttpResponse::Ok().json(json!({
                "synced": true, "sha": sha.as_str(), "commit_sha": head, "run_id": run_id,
                "branch": branch,
            })));
        }
        if Instant::now() >= deadline || state.shutdown.is_cancelled() {
            return Ok(HttpResponse::GatewayTimeout().json(json!({
                "synced": false, "sha": sha.as_str(), "branch": branch,
                "error": format!("{} is not synced on {branch} after {:?}", sha.as_str(), timeout),
            })));
        }
        progress::until_success(
            &state.hub,
            &mut live,
            Some(p.project.id),
            deadline,
            &state.shutdown,
        )
        .await;
    }
}
