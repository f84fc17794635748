use sea_orm::entity::prelude::*;

use crate::git::{BranchName, Sha};

/// `sha` is contained in `head_sha` on `branch`: learnt from a push delivery's commit list.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pushed_commits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub repository_id: i64,
    pub branch: BranchName,
    pub sha: Sha,
    pub head_sha: Sha,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
