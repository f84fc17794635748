use sea_orm::entity::prelude::*;

/// The durable sync queue and its history: one row per run of one branch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_sync_id: i64,
    /// Why it was queued: `runs::Trigger` (install, push, create, manual, reconcile, selection).
    pub trigger: String,
    pub from_sha: Option<String>,
    pub target_sha: Option<String>,
    /// queued, running, succeeded, failed or superseded.
    pub status: String,
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
