use sea_orm::entity::prelude::*;
use serde::Serialize;

use super::stored_strings;
use crate::git::{BranchName, Sha};

/// How a path changed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    Renamed,
}

stored_strings!(ChangeKind {
    Added => "added",
    Modified => "modified",
    Deleted => "deleted",
    Renamed => "renamed",
});

/// One file changed by a successful run: the change feed. `id` is the cursor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i64,
    pub project_sync_id: i64,
    pub run_id: i64,
    /// `owner/name` when the run synced it.
    pub repository: String,
    pub branch: BranchName,
    pub commit_sha: Sha,
    pub path: String,
    pub change: ChangeKind,
    pub previous_path: Option<String>,
    pub blob_sha: Option<String>,
    pub previous_blob_sha: Option<String>,
    /// The mode after the change (before it, for a deletion), and before it.
    pub mode: Option<String>,
    pub previous_mode: Option<String>,
    pub size: Option<i64>,
    pub previous_size: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
