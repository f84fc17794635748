//! A pushed head's message and author, as the push delivery said (`head_commit`): the run page
//! shows what a run synced without asking GitHub. Kept as long as pushed commits are.
use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::OnConflict, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

use super::entities::head_commits::{self, Column, Entity as HeadCommit};
use crate::git::Sha;

pub use head_commits::Model;

/// Longest message and name kept (characters): a page shows a summary, not a novel.
const MAX_MESSAGE: usize = 2_000;
const MAX_NAME: usize = 200;

/// What a push said about its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub message: String,
    pub author_name: Option<String>,
    pub author_login: Option<String>,
    pub committed_at: Option<DateTime<Utc>>,
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Records a head's message and author; a second push of the same head changes nothing.
pub async fn record(
    db: &impl ConnectionTrait,
    repository_id: i64,
    sha: &Sha,
    info: &CommitInfo,
) -> Result<(), DbErr> {
    let row = head_commits::ActiveModel {
        repository_id: Set(repository_id),
        sha: Set(sha.to_string()),
        message: Set(cut(&info.message, MAX_MESSAGE)),
        author_name: Set(info.author_name.as_deref().map(|n| cut(n, MAX_NAME))),
        author_login: Set(info.author_login.as_deref().map(|n| cut(n, MAX_NAME))),
        committed_at: Set(info.committed_at),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    HeadCommit::insert(row)
        .on_conflict(
            OnConflict::columns([Column::RepositoryId, Column::Sha])
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

pub async fn find(
    db: &impl ConnectionTrait,
    repository_id: i64,
    sha: &str,
) -> Result<Option<Model>, DbErr> {
    HeadCommit::find()
        .filter(Column::RepositoryId.eq(repository_id))
        .filter(Column::Sha.eq(sha))
        .one(db)
        .await
}

/// Deletes heads recorded longer than `retention` ago.
pub async fn prune(
    db: &impl ConnectionTrait,
    retention: std::time::Duration,
) -> Result<u64, DbErr> {
    let cutoff =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    Ok(HeadCommit::delete_many()
        .filter(Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}
