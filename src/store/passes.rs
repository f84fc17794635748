//! Self-healing passes, one row per kind: a lease so one replica runs a pass at a time, a pause
//! GitHub's rate limit asked for, what the last run did, and the redelivery listing's cursor.
use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, TryInsertResult,
};

use super::entities::background_passes::{self, Column, Entity as Pass, Model};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassKind {
    /// Asking GitHub to redeliver webhooks it could not deliver.
    Redelivery,
    /// Comparing installations and their repositories with GitHub's lists.
    Installations,
}

impl PassKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redelivery => "redelivery",
            Self::Installations => "installations",
        }
    }
}

/// Takes the pass's lease for `ttl` unless another holder has it or a rate-limit pause is on.
/// Returns the row as it was (with its cursor) when the lease is ours.
pub(crate) async fn try_lease(
    db: &impl ConnectionTrait,
    kind: PassKind,
    holder: &str,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Option<Model>, DbErr> {
    let row = background_passes::ActiveModel {
        name: Set(kind.as_str().to_owned()),
        actions_total: Set(0),
        ..Default::default()
    };
    let _: TryInsertResult<u64> = Pass::insert(row)
        .on_conflict(OnConflict::column(Column::Name).do_nothing().to_owned())
        .try_insert()
        .exec_without_returning(db)
        .await?;
    let taken = Pass::update_many()
        .col_expr(Column::LeasedBy, Expr::value(holder))
        .col_expr(Column::LeaseUntil, Expr::value(now + ttl))
        .col_expr(Column::LastStartedAt, Expr::value(now))
        .filter(Column::Name.eq(kind.as_str()))
        .filter(
            Column::LeaseUntil
                .is_null()
                .or(Column::LeaseUntil.lt(now))
                .or(Column::LeasedBy.eq(holder)),
        )
        .filter(Column::NotBefore.is_null().or(Column::NotBefore.lte(now)))
        .exec(db)
        .await?;
    if taken.rows_affected != 1 {
        return Ok(None);
    }
    Pass::find_by_id(kind.as_str()).one(db).await
}

/// Where the redelivery listing stands after a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub newest_seen: Option<i64>,
    pub resume_url: Option<String>,
    pub resume_newest: Option<i64>,
}

/// How a pass ended.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub outcome: String,
    pub error: Option<String>,
    pub actions: i64,
    /// Set when GitHub asked to wait: no replica runs the pass before it.
    pub not_before: Option<DateTime<Utc>>,
    /// None keeps the stored cursor.
    pub cursor: Option<Cursor>,
}

/// Records the end of a pass and gives up the lease (only if `holder` still has it).
pub async fn finish(
    db: &impl ConnectionTrait,
    kind: PassKind,
    holder: &str,
    now: DateTime<Utc>,
    f: Finished,
) -> Result<(), DbErr> {
    let mut q = Pass::update_many()
        .col_expr(Column::LeasedBy, Expr::value(None::<String>))
        .col_expr(Column::LeaseUntil, Expr::value(None::<DateTime<Utc>>))
        .col_expr(Column::LastFinishedAt, Expr::value(now))
        .col_expr(Column::LastOutcome, Expr::value(f.outcome))
        .col_expr(Column::LastError, Expr::value(f.error))
        .col_expr(Column::NotBefore, Expr::value(f.not_before))
        .col_expr(
            Column::ActionsTotal,
            Expr::col(Column::ActionsTotal).add(f.actions),
        );
    if let Some(c) = f.cursor {
        q = q
            .col_expr(Column::NewestSeen, Expr::value(c.newest_seen))
            .col_expr(Column::ResumeUrl, Expr::value(c.resume_url))
            .col_expr(Column::ResumeNewest, Expr::value(c.resume_newest));
    }
    q.filter(Column::Name.eq(kind.as_str()))
        .filter(Column::LeasedBy.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn load(db: &impl ConnectionTrait, kind: PassKind) -> Result<Option<Model>, DbErr> {
    Pass::find_by_id(kind.as_str()).one(db).await
}
