use sea_orm::entity::prelude::*;

/// A repository an installation can see, keyed by GitHub's repository id (names change on rename).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "repositories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub installation_id: i64,
    pub full_name: String,
    pub default_branch: String,
    pub private: bool,
    pub archived: bool,
    pub removed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::installations::Entity",
        from = "Column::InstallationId",
        to = "super::installations::Column::Id"
    )]
    Installation,
    #[sea_orm(has_one = "super::projects::Entity")]
    Project,
}

impl Related<super::installations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Installation.def()
    }
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Project.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
