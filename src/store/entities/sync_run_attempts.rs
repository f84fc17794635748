use sea_orm::entity::prelude::*;
use serde::Serialize;

use super::stored_strings;

/// How an attempt ended (or that it is still running).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    Running,
    Succeeded,
    /// Failed; the run was retried later or ended failed.
    Failed,
    /// Had nothing (more) to do: the branch or its selection is gone.
    Superseded,
    /// Handed back at shutdown, to run again at once.
    Interrupted,
    /// Its worker stopped without a word (crash, kill); its lease expired.
    Abandoned,
}

stored_strings!(AttemptStatus {
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    Superseded => "superseded",
    Interrupted => "interrupted",
    Abandoned => "abandoned",
});

/// One attempt of a sync run (`store::attempts`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_run_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    /// 1-based, as `sync_runs.attempt` counts.
    pub attempt: i32,
    pub worker: String,
    pub status: AttemptStatus,
    pub error: Option<String>,
    pub files_fetched: i64,
    pub bytes_fetched: i64,
    pub api_requests: i64,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::sync_runs::Entity",
        from = "Column::RunId",
        to = "super::sync_runs::Column::Id"
    )]
    SyncRun,
}

impl Related<super::sync_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SyncRun.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
