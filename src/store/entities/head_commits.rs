use sea_orm::entity::prelude::*;

/// A pushed head's message and author, from the push delivery's `head_commit` (run page).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "head_commits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub repository_id: i64,
    pub sha: String,
    pub message: String,
    pub author_name: Option<String>,
    pub author_login: Option<String>,
    pub committed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
