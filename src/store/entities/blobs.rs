use sea_orm::entity::prelude::*;

/// Content-addressed file content, keyed by git blob sha and shared by every branch and project.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha: String,
    pub size: i64,
    pub binary: bool,
    /// None when the blob is over the size limit: listed, not stored.
    pub content: Option<Vec<u8>>,
    /// A Git LFS pointer file: stored, but not the file's real content.
    pub lfs_pointer: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
