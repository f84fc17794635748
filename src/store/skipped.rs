//! Why a manifest entry has no usable content: a submodule (a commit elsewhere), a symlink (its
//! target path is stored, not a file), a blob over the size limit, or a Git LFS pointer.
use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};

use super::entities::files;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Skipped {
    TooLarge,
    LfsPointer,
    Submodule,
    Symlink,
}

impl Skipped {
    pub const ALL: [Skipped; 4] = [
        Self::TooLarge,
        Self::LfsPointer,
        Self::Submodule,
        Self::Symlink,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::LfsPointer => "lfs_pointer",
            Self::Submodule => "submodule",
            Self::Symlink => "symlink",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A Git LFS pointer as the spec defines it: under 1024 bytes, UTF-8, the version line first,
/// then `oid sha256:` and `size` lines.
pub(crate) fn is_lfs_pointer(content: &[u8]) -> bool {
    const VERSION: &[u8] = b"version https://git-lfs.github.com/spec/v1\n";
    content.len() < 1024
        && content.starts_with(VERSION)
        && std::str::from_utf8(content).is_ok_and(|s| {
            s.lines().any(|l| l.starts_with("oid sha256:"))
                && s.lines().any(|l| l.starts_with("size "))
        })
}

/// The reason as SQL, for a `files f LEFT JOIN blobs b`.
const REASON: &str = "CASE WHEN f.mode = '160000' THEN 'submodule' \
     WHEN f.mode = '120000' THEN 'symlink' \
     WHEN b.sha IS NULL THEN NULL \
     WHEN b.content IS NULL THEN 'too_large' \
     WHEN b.lfs_pointer THEN 'lfs_pointer' END";

fn param(db: &impl ConnectionTrait) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Postgres => "$1",
        _ => "?",
    }
}

#[derive(FromQueryResult)]
struct Row {
    path: String,
    blob_sha: String,
    mode: String,
    size: Option<i64>,
    reason: Option<String>,
}

/// A branch's manifest, each entry with why it has no content (None: it has).
pub async fn manifest(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<Vec<(files::Model, Option<Skipped>)>, DbErr> {
    let sql = format!(
        "SELECT f.path, f.blob_sha, f.mode, f.size, {REASON} AS reason \
         FROM files f LEFT JOIN blobs b ON b.sha = f.blob_sha \
         WHERE f.project_sync_id = {} ORDER BY f.path",
        param(db)
    );
    let stmt =
        Statement::from_sql_and_values(db.get_database_backend(), sql, [project_sync_id.into()]);
    let rows = Row::find_by_statement(stmt).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let reason = r.reason.as_deref().and_then(Skipped::parse);
            let file = files::Model {
                project_sync_id,
                path: r.path,
                blob_sha: r.blob_sha,
                mode: r.mode,
                size: r.size,
            };
            (file, reason)
        })
        .collect())
}

#[derive(FromQueryResult)]
struct Count {
    reason: Option<String>,
    n: i64,
}

/// How many entries of a branch's manifest are skipped, per reason.
pub async fn counts(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<BTreeMap<Skipped, i64>, DbErr> {
    let sql = format!(
        "SELECT {REASON} AS reason, COUNT(*) AS n \
         FROM files f LEFT JOIN blobs b ON b.sha = f.blob_sha \
         WHERE f.project_sync_id = {} GROUP BY 1",
        param(db)
    );
    let stmt =
        Statement::from_sql_and_values(db.get_database_backend(), sql, [project_sync_id.into()]);
    Ok(Count::find_by_statement(stmt)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|c| Some((Skipped::parse(c.reason.as_deref()?)?, c.n)))
        .collect())
}

/// Why each of these entries has no content, by mode and by what the blobs table holds.
pub(crate) async fn reasons(
    db: &impl ConnectionTrait,
    entries: &[(&str, &str)],
) -> Result<Vec<Option<Skipped>>, DbErr> {
    use std::collections::HashMap;

    use sea_orm::{
        sea_query::{Expr, ExprTrait},
        ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
    };

    use super::entities::blobs;
    let shas: Vec<String> = entries.iter().map(|(_, sha)| sha.to_string()).collect();
    let mut found: HashMap<String, (bool, bool)> = HashMap::new();
    for chunk in shas.chunks(500) {
        let rows: Vec<(String, bool, bool)> = blobs::Entity::find()
            .select_only()
            .column(blobs::Column::Sha)
            .column_as(Expr::col(blobs::Column::Content).is_null(), "no_content")
            .column(blobs::Column::LfsPointer)
            .filter(blobs::Column::Sha.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|(s, n, l)| (s, (n, l))));
    }
    Ok(entries
        .iter()
        .map(|(mode, sha)| match *mode {
            "160000" => Some(Skipped::Submodule),
            "120000" => Some(Skipped::Symlink),
            _ => match found.get(*sha) {
                Some((true, _)) => Some(Skipped::TooLarge),
                Some((false, true)) => Some(Skipped::LfsPointer),
                _ => None,
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::is_lfs_pointer;

    #[test]
    fn lfs_pointers_are_recognised_and_look_alikes_are_not() {
        let pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n";
        assert!(is_lfs_pointer(pointer));
        assert!(!is_lfs_pointer(
            b"version https://git-lfs.github.com/spec/v1\n"
        ));
        assert!(!is_lfs_pointer(
            b"# notes\nversion https://git-lfs.github.com/spec/v1\n"
        ));
        let mut long = pointer.to_vec();
        long.extend(std::iter::repeat_n(b'x', 1024));
        assert!(!is_lfs_pointer(&long));
    }
}
