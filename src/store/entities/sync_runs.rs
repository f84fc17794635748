use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::stored_strings;
use crate::git::Sha;

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
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Superseded,
}

stored_strings!(RunStatus {
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    Superseded => "superseded",
});

/// Why a run was queued.
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
pub enum Trigger {
    Install,
    Push,
    /// A branch created on GitHub (the `create` event).
    Create,
    Manual,
    Reconcile,
    Selection,
}

stored_strings!(Trigger {
    Install => "install",
    Push => "push",
    Create => "create",
    Manual => "manual",
    Reconcile => "reconcile",
    Selection => "selection",
});

/// The durable sync queue and its history: one row per run of one branch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_sync_id: i64,
    pub trigger: Trigger,
    pub from_sha: Option<Sha>,
    pub target_sha: Option<Sha>,
    pub status: RunStatus,
    pub attempt: i32,
    pub lease_until: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    /// Backoff: a queued run is not claimed before this time.
    pub not_before: Option<DateTimeUtc>,
    pub files_total: i64,
    pub files_changed: i64,
    pub files_fetched: i64,
    pub bytes_fetched: i64,
    pub api_requests: i64,
    pub queued_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::project_syncs::Entity",
        from = "Column::ProjectSyncId",
        to = "super::project_syncs::Column::Id"
    )]
    ProjectSync,
}

impl Related<super::project_syncs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProjectSync.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
