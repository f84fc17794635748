use sea_orm::entity::prelude::*;

/// The progress log that SSE streams replay from (`Last-Event-ID` is this id).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i64,
    pub run_id: Option<i64>,
    pub kind: String,
    pub data: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id"
    )]
    Project,
    #[sea_orm(
        belongs_to = "super::sync_runs::Entity",
        from = "Column::RunId",
        to = "super::sync_runs::Column::Id"
    )]
    Run,
}

impl ActiveModelBehavior for ActiveModel {}
