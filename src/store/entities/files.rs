use sea_orm::entity::prelude::*;

/// One entry of a branch's synced manifest.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_sync_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub path: String,
    /// The blob sha; for a submodule entry (mode 160000) the commit sha it points at.
    pub blob_sha: String,
    pub mode: String,
    pub size: Option<i64>,
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
