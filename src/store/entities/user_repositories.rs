use sea_orm::entity::prelude::*;
use serde::Serialize;

/// What a signed-in user may do with a repository's project: admins of the installation's
/// account change selections and start syncs, everyone else with access reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Member,
}

super::stored_strings!(Role {
    Admin => "admin",
    Member => "member",
});

/// A repository GitHub says the user can reach through an installation of the app
/// (`GET /user/installations/{id}/repositories`), with the user's role there.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_repositories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub repository_id: i64,
    pub installation_id: i64,
    pub role: Role,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
