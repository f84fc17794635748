//! Each attempt of a sync run (`sync_run_attempts`): started when a worker claims the run, ended
//! with the run's own update (`runs::finish`, `runs::retry_later`) in the same transaction. An
//! attempt whose worker died stays `running` until the next claim marks it `abandoned`.
use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set,
};

pub use super::entities::sync_run_attempts::AttemptStatus;
use super::entities::{
    sync_run_attempts::{self, Column, Entity as Attempt},
    sync_runs,
};

/// Records that `worker` starts attempt `run.attempt` of a run it just claimed; an earlier
/// attempt still `running` lost its worker.
pub async fn begin(
    db: &impl ConnectionTrait,
    run: &sync_runs::Model,
    worker: &str,
) -> Result<(), DbErr> {
    let now = Utc::now();
    Attempt::update_many()
        .col_expr(Column::Status, Expr::value(AttemptStatus::Abandoned))
        .col_expr(Column::FinishedAt, Expr::value(now))
        .col_expr(
            Column::Error,
            Expr::value("its worker stopped before finishing; the lease expired"),
        )
        .filter(Column::RunId.eq(run.id))
        .filter(Column::Status.eq(AttemptStatus::Running))
        .filter(Column::Attempt.lt(run.attempt))
        .exec(db)
        .await?;
    // The claim stamped the run's start with the first attempt's.
    let started_at = match (run.attempt, run.started_at) {
        (1, Some(at)) => at,
        _ => now,
    };
    let row = sync_run_attempts::ActiveModel {
        run_id: Set(run.id),
        attempt: Set(run.attempt),
        worker: Set(worker.to_owned()),
        status: Set(AttemptStatus::Running),
        started_at: Set(started_at),
        ..Default::default()
    };
    Attempt::insert(row)
        .on_conflict(
            OnConflict::columns([Column::RunId, Column::Attempt])
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// What one attempt fetched and cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub files_fetched: i64,
    pub bytes_fetched: i64,
    pub api_requests: i64,
}

/// Ends the attempt `worker` runs, with what it fetched and cost.
pub async fn end(
    db: &impl ConnectionTrait,
    run: &sync_runs::Model,
    worker: &str,
    status: AttemptStatus,
    cost: Cost,
    error: Option<&str>,
) -> Result<(), DbErr> {
    Attempt::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(Column::Error, Expr::value(error.map(str::to_owned)))
        .col_expr(Column::FilesFetched, Expr::value(cost.files_fetched))
        .col_expr(Column::BytesFetched, Expr::value(cost.bytes_fetched))
        .col_expr(Column::ApiRequests, Expr::value(cost.api_requests))
        .filter(Column::RunId.eq(run.id))
        .filter(Column::Attempt.eq(run.attempt))
        .filter(Column::Worker.eq(worker))
        .filter(Column::Status.eq(AttemptStatus::Running))
        .exec(db)
        .await
        .map(|_| ())
}

/// The attempts of these runs, each run's in order.
pub async fn of_runs(
    db: &impl ConnectionTrait,
    run_ids: &[i64],
) -> Result<HashMap<i64, Vec<sync_run_attempts::Model>>, DbErr> {
    let mut by_run: HashMap<i64, Vec<_>> = HashMap::new();
    for chunk in run_ids.chunks(500) {
        for a in Attempt::find()
            .filter(Column::RunId.is_in(chunk.iter().copied()))
            .order_by_asc(Column::RunId)
            .order_by_asc(Column::Attempt)
            .all(db)
            .await?
        {
            by_run.entry(a.run_id).or_default().push(a);
        }
    }
    Ok(by_run)
}
