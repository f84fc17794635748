//! Reading a branch as synced at an earlier commit (`?at=SHA`) and comparing two synced commits
//! (`/compare/{base}...{head}`), from stored data alone: no GitHub call.
use std::collections::BTreeMap;

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    openapi::ErrorBody,
    projects::{find_for, synced_branch},
};
use crate::{
    git::Sha,
    http::{auth::Caller, ApiError, AppState},
    store::{
        changes::{diff, ChangeKind, Version},
        entities::project_syncs,
        scope::Scope,
        scoped,
        snapshots::Unavailable,
    },
};

/// The tree of `sel` as synced at `at`.
pub async fn tree(
    state: &AppState,
    scope: &Scope,
    sel: &project_syncs::Model,
    at: &str,
) -> Result<BTreeMap<String, Version>, ApiError> {
    let sha = Sha::parse(at.trim().to_ascii_lowercase().as_str())
        .map_err(|_| ApiError::BadRequest(format!("{at:?} is not a 40-digit commit sha")))?;
    match scoped::tree_at(&state.db, scope, sel.id, sha.as_str()).await? {
        Ok(tree) => Ok(tree),
        Err(Unavailable::NotSynced) => Err(ApiError::NotFound(format!(
            "no run synced commit {} on branch {}",
            sha.as_str(),
            sel.branch
        ))),
        Err(Unavailable::Pruned) => Err(ApiError::Gone(format!(
            "commit {} on branch {} is older than the change feed's retention",
            sha.as_str(),
            sel.branch
        ))),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CompareQuery {
    /// Defaults to the repository's default branch.
    branch: Option<String>,
}

/// The file changes between two synced commits.
#[derive(Serialize, ToSchema)]
pub(crate) struct Comparison {
    pub base: String,
    pub head: String,
    pub branch: String,
    pub changes: Vec<ComparedChange>,
}

/// One path's change, in the change feed's shape without cursor and run.
#[derive(Serialize, ToSchema)]
pub(crate) struct ComparedChange {
    pub project_id: i64,
    pub repository: String,
    pub branch: String,
    pub commit_sha: String,
    pub path: String,
    pub change: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_blob_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// The changes between two synced commits of a branch, from stored data alone.
#[utoipa::path(
    tag = "files",
    params(
        ("id" = i64, Path, description = "The project's id"),
        ("spec" = String, Path, description = "`BASE...HEAD`: two commit shas a run synced"),
        CompareQuery,
    ),
    responses(
        (status = 200, body = Comparison),
        (status = 400, description = "Not `BASE...HEAD` of two commit shas", body = ErrorBody),
        (status = 404, description = "No such project or branch, or a commit no run synced", body = ErrorBody),
        (status = 410, description = "A commit older than the change feed's retention", body = ErrorBody),
    )
)]
#[get("/projects/{id}/compare/{spec}")]
async fn compare(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    q: web::Query<CompareQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, spec) = path.into_inner();
    let (base, head) = spec
        .split_once("...")
        .ok_or_else(|| ApiError::BadRequest(format!("{spec:?} is not BASE...HEAD")))?;
    let p = find_for(&state, &caller, id).await?;
    let sel = synced_branch(&p, q.branch.as_deref())?;
    let scope = caller.scope(&state).await?;
    let old = tree(&state, &scope, sel, base).await?;
    let new = tree(&state, &scope, sel, head).await?;
    let head = head.trim().to_ascii_lowercase();
    let changes: Vec<ComparedChange> = diff(&old, &new)
        .into_iter()
        .map(|c| ComparedChange {
            project_id: p.project.id,
            repository: p.repository.full_name.clone(),
            branch: sel.branch.clone(),
            commit_sha: head.clone(),
            path: c.path,
            change: c.kind,
            previous_path: c.previous_path,
            blob_sha: c.new.as_ref().map(|n| n.sha.clone()),
            previous_blob_sha: c.old.as_ref().map(|o| o.sha.clone()),
            size: c.new.as_ref().and_then(|n| n.size),
            mode: c.new.as_ref().or(c.old.as_ref()).map(|x| x.mode.clone()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(Comparison {
        base: base.trim().to_ascii_lowercase(),
        head,
        branch: sel.branch.clone(),
        changes,
    }))
}
