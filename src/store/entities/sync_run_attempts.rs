use sea_orm::entity::prelude::*;

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
    /// `attempts::AttemptStatus`: running, succeeded, failed, superseded, interrupted, abandoned.
    pub status: String,
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
