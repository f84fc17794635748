//! The synced content: a branch's manifest and each file's bytes, as other tools read them.
use actix_web::{
    get,
    http::header::{
        self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    },
    web, HttpResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    openapi::{ErrorBody, FileBytes},
    projects::{find_for, synced_branch},
    snapshot,
};
use crate::{
    http::{auth::Caller, ApiError, AppState},
    store::{
        entities::{files, project_syncs},
        manifests,
        scope::Scope,
        scoped,
        skipped::{self, Skipped},
    },
    sync::planner::SUBMODULE_MODE,
};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct BranchQuery {
    /// Defaults to the repository's default branch.
    branch: Option<String>,
    /// A commit a run synced: the tree as it was then.
    at: Option<String>,
}

/// A branch's manifest: its head as synced, or with `at` the tree at an earlier synced commit.
#[derive(Serialize, ToSchema)]
pub(crate) struct Manifest {
    pub branch: String,
    /// The synced commit (null before the first sync).
    pub sha: Option<String>,
    /// When the head was synced (absent with `at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced_at: Option<DateTime<Utc>>,
    /// Whether the branch was deleted on GitHub (absent with `at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    pub files: Vec<ManifestEntry>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ManifestEntry {
    pub path: String,
    /// The blob's sha (a submodule's: the commit's).
    pub sha: String,
    pub size: Option<i64>,
    /// Git's file mode: `100644`, `100755`, `120000` (symlink), `160000` (submodule).
    pub mode: String,
    /// Why the content is not served (null: it is).
    pub skipped: Option<Skipped>,
}

/// A branch's manifest (default: the default branch), or with `at` the tree at a synced commit.
#[utoipa::path(
    tag = "files",
    params(("id" = i64, Path, description = "The project's id"), BranchQuery),
    responses(
        (status = 200, body = Manifest),
        (status = 400, description = "`at` is not a commit sha", body = ErrorBody),
        (status = 404, description = "No such project or branch; with `at`: no run synced it", body = ErrorBody),
        (status = 410, description = "`at` is older than the change feed's retention", body = ErrorBody),
    )
)]
#[get("/projects/{id}/files")]
async fn manifest(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<BranchQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = find_for(&state, &caller, *id).await?;
    let sel = synced_branch(&p, q.branch.as_deref())?;
    if let Some(at) = &q.at {
        return Ok(
            HttpResponse::Ok().json(listing(&state, &caller.scope(&state).await?, sel, at).await?)
        );
    }
    let files = scoped::manifest(&state.db, &caller.scope(&state).await?, sel.id).await?;
    let files: Vec<_> = files
        .into_iter()
        .map(|(f, skipped)| ManifestEntry {
            path: f.path,
            sha: f.blob_sha,
            size: f.size,
            mode: f.mode,
            skipped,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Manifest {
        branch: sel.branch.clone(),
        sha: sel.last_synced_sha.as_ref().map(|s| s.to_string()),
        synced_at: sel.last_synced_at,
        deleted: Some(sel.deleted_at.is_some()),
        files,
    }))
}

/// The manifest listing at `at`, in the shape of `GET /files`.
async fn listing(
    state: &AppState,
    scope: &Scope,
    sel: &project_syncs::Model,
    at: &str,
) -> Result<Manifest, ApiError> {
    let tree = snapshot::tree(state, scope, sel, at).await?;
    let keys: Vec<(&str, &str)> = tree
        .values()
        .map(|v| (v.mode.as_str(), v.sha.as_str()))
        .collect();
    let why = skipped::reasons(&state.db, &keys).await?;
    let files: Vec<ManifestEntry> = tree
        .iter()
        .zip(why)
        .map(|((path, v), skipped)| ManifestEntry {
            path: path.clone(),
            sha: v.sha.clone(),
            size: v.size,
            mode: v.mode.clone(),
            skipped,
        })
        .collect();
    Ok(Manifest {
        branch: sel.branch.clone(),
        sha: Some(at.trim().to_ascii_lowercase()),
        synced_at: None,
        deleted: None,
        files,
    })
}

/// A file's raw bytes, as a download.
#[utoipa::path(
    tag = "files",
    params(
        ("id" = i64, Path, description = "The project's id"),
        ("path" = String, Path, description = "The file's path in the repository"),
        BranchQuery,
    ),
    responses(
        (status = 200, description = "The file's bytes; `x-hubsync-blob-sha` and `x-hubsync-mode` name the version",
         content_type = "application/octet-stream", body = FileBytes),
        (status = 404, description = "No such file; or a submodule, a Git LFS pointer, or over the size limit", body = ErrorBody),
        (status = 410, description = "`at` is older than the change feed's retention", body = ErrorBody),
    )
)]
#[get("/projects/{id}/files/{path:.+}")]
async fn content(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    q: web::Query<BranchQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, file_path) = path.into_inner();
    let p = find_for(&state, &caller, id).await?;
    let sel = synced_branch(&p, q.branch.as_deref())?;
    let file = match &q.at {
        None => scoped::file(&state.db, &caller.scope(&state).await?, sel.id, &file_path).await?,
        Some(at) => snapshot::tree(&state, &caller.scope(&state).await?, sel, at)
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
