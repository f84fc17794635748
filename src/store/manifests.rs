//! Content-addressed blobs and each branch's manifest (`blobs`, `files`).
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::{
    sea_query::OnConflict, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
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
pub async fn missing_blobs(
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

/// Stores a blob once; a second store of the same sha is a no-op (same sha, same bytes).
/// `content` is None for a blob over the size limit: listed with its size, not stored.
pub async fn store_blob(
    db: &impl ConnectionTrait,
    sha: &str,
    size: i64,
    content: Option<Vec<u8>>,
) -> Result<(), DbErr> {
    let binary = content.as_deref().is_some_and(is_binary);
    blobs::Entity::insert(blobs::ActiveModel {
        sha: Set(sha.to_owned()),
        size: Set(size),
        binary: Set(binary),
        content: Set(content),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(blobs::Column::Sha)
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

pub async fn blob(db: &impl ConnectionTrait, sha: &str) -> Result<Option<blobs::Model>, DbErr> {
    blobs::Entity::find_by_id(sha.to_owned()).one(db).await
}

/// Git's own heuristic: a NUL byte in the first 8000 bytes means binary.
pub fn is_binary(content: &[u8]) -> bool {
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

/// Makes the stored manifest equal `entries`, touching only the rows that differ. Call it inside
/// a transaction: readers then see the old manifest or the new one, never a mix.
pub async fn replace_manifest(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    entries: &[Entry],
) -> Result<(), DbErr> {
    let old: HashMap<String, files::Model> = manifest(db, project_sync_id)
        .await?
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect();
    let wanted: HashSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let gone: Vec<String> = old
        .keys()
        .filter(|p| !wanted.contains(p.as_str()))
        .cloned()
        .collect();
    let changed: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            old.get(&e.path)
                .is_none_or(|f| f.blob_sha != e.sha || f.mode != e.mode || f.size != e.size)
        })
        .collect();

    let doomed: Vec<String> = gone
        .into_iter()
        .chain(
            changed
                .iter()
                .filter(|e| old.contains_key(&e.path))
                .map(|e| e.path.clone()),
        )
        .collect();
    for chunk in doomed.chunks(CHUNK) {
        files::Entity::delete_many()
            .filter(files::Column::ProjectSyncId.eq(project_sync_id))
            .filter(files::Column::Path.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    for chunk in changed.chunks(CHUNK) {
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
