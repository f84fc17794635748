use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::stored_strings;
use crate::git::{BranchName, Sha};

/// Where a selection stands. A pattern is `pending` until its branches are listed, `synced` once
/// they are.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SelectionState {
    /// The column's default in the initial migration; the code writes `pending` instead.
    Idle,
    Pending,
    Synced,
    Syncing,
    Failed,
    Deleted,
}

stored_strings!(SelectionState {
    Idle => "idle",
    Pending => "pending",
    Synced => "synced",
    Syncing => "syncing",
    Failed => "failed",
    Deleted => "deleted",
});

/// One branch selection of a project (a branch name, or a glob pattern when `is_pattern`; so
/// `branch` is text, and `branch_name` the typed name of a selection that is no pattern).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_syncs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i64,
    pub branch: String,
    pub is_pattern: bool,
    pub enabled: bool,
    pub state: SelectionState,
    pub last_synced_sha: Option<Sha>,
    pub last_synced_at: Option<DateTimeUtc>,
    /// Set when the branch was deleted on GitHub; the selection and its manifest are kept.
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id"
    )]
    Project,
    #[sea_orm(has_many = "super::sync_runs::Entity")]
    SyncRuns,
    #[sea_orm(has_many = "super::files::Entity")]
    Files,
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Project.def()
    }
}

impl Related<super::sync_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SyncRuns.def()
    }
}

impl Related<super::files::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Files.def()
    }
}

impl Model {
    /// The branch a non-pattern selection names: written only from a parsed `BranchName`.
    pub(crate) fn branch_name(&self) -> Option<BranchName> {
        (!self.is_pattern).then(|| BranchName::stored(self.branch.clone()))
    }
}

impl ActiveModelBehavior for ActiveModel {}
