//! Content-addressed blobs and each branch's manifest (`blobs`, `files`).
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::{
    sea_query::{Alias, Expr, ExprTrait, OnConflict},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entities::{blobs, files};

/// Rows per statement: well under SQLite's and PostgreSQL's bind-parameter limits.
const CHUNK: usize = 500;

pub async fn manifest(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<Vec<files::Model>, DbErr> {
    files::Entity::find()
        .filter(files::Column::ProjectSyncId.eq(project_sync_id))
        .order_by_asc(files::Column::Path)
        .all(db)
        .await
}

pub async fn count(db: &impl ConnectionTrait, project_sync_id: i64) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    files::Entity::find()
        .filter(files::Column::ProjectSyncId.eq(project_sync_id))
        .count(db)
        .await
}

/// The stored rows of these paths (those the manifest lists), read by key.
pub(crate) async fn rows_at(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    paths: &[String],
) -> Result<Vec<files::Model>, DbErr> {
    let mut rows = Vec::new();
    for chunk in paths.chunks(CHUNK) {
        rows.extend(
            files::Entity::find()
                .filter(files::Column::ProjectSyncId.eq(project_sync_id))
                .filter(files::Column::Path.is_in(chunk.iter().cloned()))
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

/// Whether the branch's manifest lists a submodule (read through a partial index).
pub(crate) async fn has_submodules(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<bool, DbErr> {
    let one = files::Entity::find()
        .select_only()
        .column(files::Column::ProjectSyncId)
        .filter(files::Column::ProjectSyncId.eq(project_sync_id))
        .filter(files::Column::Mode.eq("160000"))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(one.is_some())
}

pub async fn file(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    path: &str,
) -> Result<Option<files::Model>, DbErr> {
    files::Entity::find_by_id((project_sync_id, path.to_owned()))
        .one(db)
        .await
}

/// Which of these blob shas are not stored yet.
pub(crate) async fn missing_blobs(
    db: &impl ConnectionTrait,
    shas: &[String],
) -> Result<HashSet<String>, DbErr> {
    let mut missing: HashSet<String> = shas.iter().cloned().collect();
    for chunk in shas.chunks(CHUNK) {
        let present: Vec<String> = blobs::Entity::find()
            .select_only()
            .column(blobs::Column::Sha)
            .filter(blobs::Column::Sha.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        for sha in present {
            missing.remove(&sha);
        }
    }
    Ok(missing)
}

/// Blobs stored without content (skipped as too large) that a limit of `max_file_size` allows:
/// read through the partial index of such blobs, so this costs nothing when there are none.
pub(crate) async fn fetchable_stubs(
    db: &impl ConnectionTrait,
    max_file_size: u64,
) -> Result<HashSet<String>, DbErr> {
    let max = i64::try_from(max_file_size).unwrap_or(i64::MAX);
    let shas: Vec<String> = blobs::Entity::find()
        .select_only()
        .column(blobs::Column::Sha)
        .filter(blobs::Column::Content.is_null())
        .filter(blobs::Column::Size.lte(max))
        .into_tuple()
        .all(db)
        .await?;
    Ok(shas.into_iter().collect())
}

/// The branch selections whose manifests list any of these blobs.
pub(crate) async fn selections_listing(
    db: &impl ConnectionTrait,
    shas: &HashSet<String>,
) -> Result<HashSet<i64>, DbErr> {
    let shas: Vec<&String> = shas.iter().collect();
    let mut found = HashSet::new();
    for chunk in shas.chunks(CHUNK) {
        let ids: Vec<i64> = files::Entity::find()
            .select_only()
            .column(files::Column::ProjectSyncId)
            .distinct()
            .filter(files::Column::BlobSha.is_in(chunk.iter().map(|s| s.as_str())))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(ids);
    }
    Ok(found)
}

/// Whether this branch's manifest lists any of these blobs.
pub(crate) async fn lists_any(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    shas: &HashSet<String>,
) -> Result<bool, DbErr> {
    use sea_orm::PaginatorTrait;
    let shas: Vec<&String> = shas.iter().collect();
    for chunk in shas.chunks(CHUNK) {
        let n = files::Entity::find()
            .filter(files::Column::ProjectSyncId.eq(project_sync_id))
            .filter(files::Column::BlobSha.is_in(chunk.iter().map(|s| s.as_str())))
            .count(db)
            .await?;
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A blob to store. `content` is None for a blob over the size limit: listed, not stored.
#[derive(Debug, Clone)]
pub(crate) struct NewBlob {
    pub sha: String,
    pub size: i64,
    pub content: Option<Vec<u8>>,
}

/// Stores a blob once; a second store of the same sha is a no-op (same sha, same bytes).
pub async fn store_blob(
    db: &impl ConnectionTrait,
    sha: &str,
    size: i64,
    content: Option<Vec<u8>>,
) -> Result<(), DbErr> {
    let blob = NewBlob {
        sha: sha.to_owned(),
        size,
        content,
    };
    store_blobs(db, vec![blob]).await
}

/// Stores many blobs with multi-row inserts (100 per statement). A sha already stored keeps its
/// row, except that content fills in a blob stored without it (skipped under a lower limit);
/// stored content is never replaced or removed (same sha, same bytes).
pub(crate) async fn store_blobs(
    db: &impl ConnectionTrait,
    blobs: Vec<NewBlob>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let mut rows = blobs.into_iter().map(|b| blobs::ActiveModel {
        binary: Set(b.content.as_deref().is_some_and(is_binary)),
        lfs_pointer: Set(b
            .content
            .as_deref()
            .is_some_and(super::skipped::is_lfs_pointer)),
        sha: Set(b.sha),
        size: Set(b.size),
        content: Set(b.content),
        created_at: Set(now),
    });
    loop {
        let chunk: Vec<_> = rows.by_ref().take(100).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        blobs::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(blobs::Column::Sha)
                    .update_columns([
                        blobs::Column::Content,
                        blobs::Column::Binary,
                        blobs::Column::LfsPointer,
                    ])
                    .action_and_where(
                        Expr::col((blobs::Entity, blobs::Column::Content))
                            .is_null()
                            .and(
                                Expr::col((Alias::new("excluded"), blobs::Column::Content))
                                    .is_not_null(),
                            ),
                    )
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
}

pub async fn blob(db: &impl ConnectionTrait, sha: &str) -> Result<Option<blobs::Model>, DbErr> {
    blobs::Entity::find_by_id(sha.to_owned()).one(db).await
}

/// Git's own heuristic: a NUL byte in the first 8000 bytes means binary.
pub(crate) fn is_binary(content: &[u8]) -> bool {
    content.iter().take(8000).any(|&b| b == 0)
}

/// One manifest entry as it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub sha: String,
    pub mode: String,
    pub size: Option<i64>,
}

/// Makes the stored manifest, which is `old`, equal `entries`, touching only the rows that
/// differ. Call it inside a transaction: readers then see the old manifest or the new one, never
/// a mix. (`old` may be read before the transaction: only one run per branch writes it.)
pub async fn replace_manifest(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    old: &[files::Model],
    entries: &[Entry],
) -> Result<(), DbErr> {
    let old: HashMap<&str, &files::Model> = old.iter().map(|f| (f.path.as_str(), f)).collect();
    let wanted: HashSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let gone: Vec<String> = old
        .keys()
        .filter(|p| !wanted.contains(*p))
        .map(|p| p.to_string())
        .collect();
    let changed: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            old.get(e.path.as_str())
                .is_none_or(|f| f.blob_sha != e.sha || f.mode != e.mode || f.size != e.size)
        })
        .collect();

    let doomed: Vec<String> = gone
        .into_iter()
        .chain(
            changed
                .iter()
                .filter(|e| old.contains_key(e.path.as_str()))
                .map(|e| e.path.clone()),
        )
        .collect();
    edit(db, project_sync_id, &doomed, &changed).await
}

/// Edits the stored manifest: deletes the rows of `removed`, then writes `written` (a path that
/// has a row already must be in `removed`). Call it inside the swap transaction, as
/// `replace_manifest`.
pub async fn edit(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    removed: &[String],
    written: &[&Entry],
) -> Result<(), DbErr> {
    for chunk in removed.chunks(CHUNK) {
        files::Entity::delete_many()
            .filter(files::Column::ProjectSyncId.eq(project_sync_id))
            .filter(files::Column::Path.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    for chunk in written.chunks(CHUNK) {
        let rows = chunk.iter().map(|e| files::ActiveModel {
            project_sync_id: Set(project_sync_id),
            path: Set(e.path.clone()),
            blob_sha: Set(e.sha.clone()),
            mode: Set(e.mode.clone()),
            size: Set(e.size),
        });
        files::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
