//! The synced content: a branch's manifest and each file's bytes, as other tools read them.
use actix_web::{
    get,
    http::header::{
        self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    },
    web, HttpResponse,
};
use serde::Deserialize;
use serde_json::json;

use super::projects::synced_branch;
use crate::{
    http::{viewer::Viewer, ApiError, AppState},
    store::{
        entities::files,
        manifests,
        skipped::{self, Skipped},
    },
    sync::planner::SUBMODULE_MODE,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchQuery {
    /// Defaults to the repository's default branch.
    branch: Option<String>,
    /// A commit a run synced: the tree as it was then.
    at: Option<String>,
}

#[get("/projects/{id}/files")]
async fn manifest(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<BranchQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = viewer.project(&state, *id).await?;
    let sel = synced_branch(&p, q.branch.as_deref())?;
    if let Some(at) = &q.at {
        return Ok(HttpResponse::Ok().json(super::snapshot::listing(&state, sel, at).await?));
    }
    let files = skipped::manifest(&state.db, sel.id).await?;
    let files: Vec<_> = files
        .into_iter()
        .map(|(f, why)| {
            json!({ "path": f.path, "sha": f.blob_sha, "size": f.size, "mode": f.mode,
                                "skipped": why.map(Skipped::as_str) })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "branch": sel.branch,
        "sha": sel.last_synced_sha,
        "synced_at": sel.last_synced_at,
        "deleted": sel.deleted_at.is_some(),
        "files": files,
    })))
}

#[get("/projects/{id}/files/{path:.+}")]
async fn content(
    viewer: Viewer,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    q: web::Query<BranchQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, file_path) = path.into_inner();
    let p = viewer.project(&state, id).await?;
    let sel = synced_branch(&p, q.branch.as_deref())?;
    let file = match &q.at {
        None => manifests::file(&state.db, sel.id, &file_path).await?,
        Some(at) => super::snapshot::tree(&state, sel, at)
            .await?
            .remove(&file_path)
            .map(|v| files::Model {
                project_sync_id: sel.id,
                path: file_path.clone(),
                blob_sha: v.sha,
                mode: v.mode,
                size: v.size,
            }),
    }
    .ok_or_else(|| ApiError::NotFound(format!("no file {file_path} on branch {}", sel.branch)))?;
    if file.mode == SUBMODULE_MODE {
        return Err(ApiError::NotFound(format!(
            "{file_path} is a submodule at commit {}",
            file.blob_sha
        )));
    }
    let blob = manifests::blob(&state.db, &file.blob_sha).await?;
    if blob.as_ref().is_some_and(|b| b.lfs_pointer) {
        return Err(ApiError::NotFound(format!(
            "{file_path} is a Git LFS pointer: the file's content is in LFS storage, which is not synced"
        )));
    }
    let Some(content) = blob.and_then(|b| b.content) else {
        return Err(ApiError::NotFound(format!(
            "{file_path} is listed ({} bytes) but its content is not stored: it is over the size limit",
            file.size.unwrap_or_default()
        )));
    };
    // Synced content is the repository's, not hubsync's: a browser that opens an HTML or SVG file
    // here must never run it on hubsync's origin (where the session is). Downloaded, sandboxed,
    // never sniffed.
    let name = file_path.rsplit('/').next().unwrap_or("file").to_owned();
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: name.into_bytes(),
            })],
        })
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(("x-hubsync-blob-sha", file.blob_sha))
        .insert_header(("x-hubsync-mode", file.mode))
        .body(content))
}
