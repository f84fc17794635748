use sea_orm::entity::prelude::*;

use super::stored_strings;

/// Which `ProgressEvent` a row holds; its name is also the SSE `event:` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
pub enum EventKind {
    Queued,
    Started,
    Progress,
    Succeeded,
    Failed,
    SelectionChanged,
}

stored_strings!(EventKind {
    Queued => "queued",
    Started => "started",
    Progress => "progress",
    Succeeded => "succeeded",
    Failed => "failed",
    SelectionChanged => "selection_changed",
});

/// Rows of the kinds this version knows: one a newer replica wrote under a new kind is skipped,
/// not an error that stops the whole batch from reading.
pub fn readable() -> sea_orm::Condition {
    use sea_orm::Iterable;
    sea_orm::Condition::all().add(Column::Kind.is_in(EventKind::iter()))
}

/// The progress log that SSE streams replay from (`Last-Event-ID` is this id).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project_id: i64,
    pub run_id: Option<i64>,
    pub kind: EventKind,
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
