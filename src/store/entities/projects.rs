use sea_orm::entity::prelude::*;

/// One per synced repository: what the status page and SSE streams are keyed by.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub repository_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::repositories::Entity",
        from = "Column::RepositoryId",
        to = "super::repositories::Column::Id"
    )]
    Repository,
    #[sea_orm(has_many = "super::project_syncs::Entity")]
    ProjectSyncs,
}

impl Related<super::repositories::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Repository.def()
    }
}

impl Related<super::project_syncs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProjectSyncs.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
