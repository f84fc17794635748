//! Reading a branch as synced at an earlier commit (`?at=SHA`) and comparing two synced commits
//! (`/compare/{base}...{head}`), from stored data alone: no GitHub call.
use std::collections::BTreeMap;

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::projects::synced_branch;
use crate::{
    git::Sha,
    http::{viewer::Viewer, ApiError, AppState},
    store::{
        changes::{diff, Version},
        entities::project_syncs,
        skipped::{self, Skipped},
        snapshots::{self, Unavailable},
    },
};

/// The tree of `sel` as synced at `at`.
pub async fn tree(
    state: &AppState,
    sel: &project_syncs::Model,
    at: &str,
) -> Result<BTreeMap<String, Version>, ApiError> {
    let sha = Sha::parse(at.trim().to_ascii_lowercase().as_str())
        .map_err(|_| ApiError::BadRequest(format!("{at:?} is not a 40-digit commit sha")))?;
    match snapshots::tree_at(&state.db, sel.id, sha.as_str()).await? {
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

/// The manifest listing at `at`, in the shape of `GET /files`.
pub async fn listing(
    state: &AppState,
    sel: &project_syncs::Model,
    at: &str,
) -> Result<Value, ApiError> {
    let tree = tree(state, sel, at).await?;
    let keys: Vec<(&str, &str)> = tree
        .values()
        .map(|v| (v.mode.as_str(), v.sha.as_str()))
        .collect();
    let why = skipped::reasons(&state.db, &keys).await?;
    let files: Vec<Value> = tree
        .iter()
        .zip(why)
        .map(|((path, v), why)| {
            json!({ "path": path, "sha": v.sha, "size": v.size, "mode": v.mode,
                    "skipped": why.map(Skipped::as_str) })
        })
        .collect();
    Ok(json!({ "branch": sel.branch, "sha": at.trim().to_ascii_lowercase(), "files": files }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareQuery {
    branch: Option<String>,
}

#[get("/projects/{id}/compare/{spec}")]
async fn compare(
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    q: web::Query<CompareQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, spec) = path.into_inner();
    let (base, head) = spec
        .split_once("...")
        .ok_or_else(|| ApiError::BadRequest(format!("{spec:?} is not BASE...HEAD")))?;
    let p = viewer.project(&state, id).await?;
    let sel = synced_branch(&p, q.branch.as_deref())?;
    let old = tree(&state, sel, base).await?;
    let new = tree(&state, sel, head).await?;
    let changes: Vec<Value> = diff(&old, &new)
        .into_iter()
        .map(|c| {
            let mut v = json!({
                "project_id": p.project.id, "repository": p.repository.full_name,
                "branch": sel.branch, "commit_sha": head.trim().to_ascii_lowercase(),
                "path": c.path, "change": c.kind.as_str(),
            });
            let fields = [
                ("previous_path", c.previous_path.map(Value::from)),
                ("blob_sha", c.new.as_ref().map(|n| n.sha.clone().into())),
                (
                    "previous_blob_sha",
                    c.old.as_ref().map(|o| o.sha.clone().into()),
                ),
                ("size", c.new.as_ref().and_then(|n| n.size).map(Value::from)),
                (
                    "mode",
                    c.new
                        .as_ref()
                        .or(c.old.as_ref())
                        .map(|x| x.mode.clone().into()),
                ),
            ];
            for (k, val) in fields {
                if let Some(val) = val {
                    v[k] = val;
                }
            }
            v
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "base": base.trim().to_ascii_lowercase(), "head": head.trim().to_ascii_lowercase(),
        "branch": sel.branch, "changes": changes,
    })))
}
