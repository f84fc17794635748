//! `GET /api/v1/projects/{id}/synced?branch=B&sha=SHA&timeout=SECONDS`: answers 200 once a run
//! synced that commit or a head containing it, else a 504 when the timeout passes, so
//! `curl --fail` works as a CI step. Woken by the hub when runs succeed, on any replica.
use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use utoipa::{IntoParams, ToSchema};

use super::{
    openapi::ErrorBody,
    projects::{find_for, synced_branch},
};
use crate::{
    git::{BranchName, Sha},
    http::{auth::Caller, ApiError, AppState},
    ids::{ProjectId, RepositoryId},
    progress,
    store::scoped,
};

/// The longest one request waits; a CI step that needs longer asks again.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(600);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SyncedQuery {
    /// Defaults to the repository's default branch.
    branch: Option<String>,
    /// The commit to wait for (required).
    sha: Option<String>,
    /// Seconds to wait (default 30, at most 600).
    timeout: Option<f64>,
}

/// The commit is synced: by a run, or within a head a run synced.
#[derive(Serialize, ToSchema)]
pub(crate) struct Synced {
    /// Always true.
    pub synced: bool,
    pub sha: String,
    /// The synced head that contains `sha`.
    pub commit_sha: String,
    pub run_id: i64,
    pub branch: BranchName,
}

/// Not synced within the timeout.
#[derive(Serialize, ToSchema)]
pub(crate) struct NotSynced {
    /// Always false.
    pub synced: bool,
    pub sha: String,
    pub branch: BranchName,
    pub error: String,
}

/// Waits until a commit is synced on a branch (for CI steps: `curl --fail`).
#[utoipa::path(
    tag = "syncs",
    params(("id" = i64, Path, description = "The project's id"), SyncedQuery),
    responses(
        (status = 200, body = Synced),
        (status = 400, description = "No or a bad sha or timeout", body = ErrorBody),
        (status = 404, description = "No such project or branch", body = ErrorBody),
        (status = 504, description = "Not synced within the timeout", body = NotSynced),
    )
)]
#[get("/projects/{id}/synced")]
async fn synced(
    caller: Caller,
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
    let p = find_for(&state, &caller, *id).await?;
    let sel = synced_branch(&p, q.branch.as_deref())?.clone();
    let branch = sel
        .branch_name()
        .ok_or_else(|| ApiError::NotFound("a pattern is not a branch".into()))?;
    let repository = RepositoryId(p.repository.id);
    let deadline = Instant::now() + timeout;
    // Subscribed before the first look, so a run that succeeds right after it wakes the wait.
    let mut live = state.hub.subscribe();
    let scope = caller.scope(&state).await?;
    loop {
        let found =
            scoped::synced_head(&state.db, &scope, sel.id, repository, &branch, &sha).await?;
        if let Some((head, run_id)) = found {
            return Ok(HttpResponse::Ok().json(Synced {
                synced: true,
                sha: sha.to_string(),
                commit_sha: head.to_string(),
                run_id,
                branch,
            }));
        }
        if Instant::now() >= deadline || state.shutdown.is_cancelled() {
            return Ok(HttpResponse::GatewayTimeout().json(NotSynced {
                synced: false,
                sha: sha.to_string(),
                error: format!(
                    "{} is not synced on {branch} after {:?}",
                    sha.as_str(),
                    timeout
                ),
                branch,
            }));
        }
        progress::until_success(
            &state.hub,
            &mut live,
            Some(ProjectId(p.project.id)),
            deadline,
            &state.shutdown,
        )
        .await;
    }
}
