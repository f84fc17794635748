//! The sync queue, kept in `sync_runs`. The database enforces one queued and one running run per
//! branch (partial unique indexes); a push while a run is queued updates that run (coalescing);
//! runs are claimed with a lease so a crashed worker's run is taken up again once it expires.
use chrono::{Duration, Utc};
use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
};

use super::{
    attempts::{self, AttemptStatus, Cost},
    entities::sync_runs::{self, Column, Entity as Run},
    queue::Claim,
};
use crate::git::Sha;

pub use super::entities::sync_runs::{RunStatus, Trigger};

#[derive(Debug, Clone)]
pub struct Enqueued {
    pub run: sync_runs::Model,
    /// True when an already queued run absorbed this request.
    pub coalesced: bool,
}

/// Queues a run for a branch, or folds the request into the run already queued for it.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
    trigger: Trigger,
    target: Option<&Sha>,
) -> Result<Enqueued, DbErr> {
    // Two attempts: a concurrent enqueue may insert between our read and our insert.
    for _ in 0..2 {
        if let Some(queued) = queued_run(db, project_sync_id).await? {
            let run = match target {
                Some(sha) if queued.target_sha.as_deref() != Some(sha.as_str()) => {
                    let mut am: sync_runs::ActiveModel = queued.into();
                    am.target_sha = Set(Some(sha.clone()));
                    am.update(db).await?
                }
                _ => queued,
            };
            return Ok(Enqueued {
                run,
                coalesced: true,
            });
        }
        let am = sync_runs::ActiveModel {
            project_sync_id: Set(project_sync_id),
            trigger: Set(trigger),
            target_sha: Set(target.cloned()),
            status: Set(RunStatus::Queued),
            queued_at: Set(Utc::now()),
            ..Default::default()
        };
        // ON CONFLICT DO NOTHING keeps a PostgreSQL transaction usable when the partial unique
        // index rejects a second queued run.
        let inserted = Run::insert(am)
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .try_insert()
            .exec_without_returning(db)
            .await?;
        if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            let run = queued_run(db, project_sync_id)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("the run just queued".into()))?;
            return Ok(Enqueued {
                run,
                coalesced: false,
            });
        }
    }
    Err(DbErr::Custom(format!(
        "could not queue a run for branch selection {project_sync_id}"
    )))
}

pub(crate) async fn queued_run(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<Option<sync_runs::Model>, DbErr> {
    Run::find()
        .filter(Column::ProjectSyncId.eq(project_sync_id))
        .filter(Column::Status.eq(RunStatus::Queued))
        .one(db)
        .await
}

/// Claims the oldest claimable run: a queued one whose backoff has passed and whose branch has no
/// running run; or a running one whose lease expired (its worker died). A run on an idle branch
/// starts at once (leading edge); on a busy one (a run of it ended within `debounce`) it waits
/// until it has been queued for `debounce`, so the pushes of a burst fold into one run. PostgreSQL skips rows
/// other workers are claiming; SQLite serialises writers, so the update is atomic there too.
/// `started_at` is the first attempt's start: a run's duration covers all of its attempts.
///
/// Call it in a transaction: the claim and the attempt it starts then commit together, so a
/// worker that dies right after claiming still leaves its attempt on record.
pub async fn claim(
    db: &impl ConnectionTrait,
    worker: &str,
    lease: Duration,
    debounce: Duration,
) -> Result<Option<sync_runs::Model>, DbErr> {
    let claimed = claim_in(db, worker, lease, debounce).await?;
    if let Some(run) = &claimed {
        attempts::begin(db, run, worker).await?;
    }
    Ok(claimed)
}

async fn claim_in(
    db: &impl ConnectionTrait,
    worker: &str,
    lease: Duration,
    debounce: Duration,
) -> Result<Option<sync_runs::Model>, DbErr> {
    let now = Utc::now();
    let stmt = Claim {
        table: "sync_runs",
        key: "id",
        alias: "r",
        joins: "",
        set: "status = 'running', lease_until = $1, leased_by = $2, attempt = attempt + 1, \
              started_at = COALESCE(started_at, $3), not_before = NULL",
        due: "(r.status = 'queued' AND (r.not_before IS NULL OR r.not_before <= $3) \
                AND (r.queued_at <= $4 \
                     OR NOT EXISTS (SELECT 1 FROM sync_runs y \
                                    WHERE y.project_sync_id = r.project_sync_id \
                                      AND y.finished_at > $4)) \
                AND NOT EXISTS (SELECT 1 FROM sync_runs x \
                                WHERE x.project_sync_id = r.project_sync_id \
                                  AND x.status = 'running')) \
              OR (r.status = 'running' AND r.lease_until < $3)",
        order: "r.id",
        limit: "1",
        returning: "*",
    }
    .statement(
        db.get_database_backend(),
        [
            (now + lease).into(),
            worker.into(),
            now.into(),
            (now - debounce).into(),
        ],
    );
    match sync_runs::Model::find_by_statement(stmt).one(db).await {
        Ok(run) => Ok(run),
        // Another worker won the race for this branch: nothing to claim this time.
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Extends a lease while the run is in progress. False when the lease was lost (another worker
/// took the run over after it expired): the caller must stop without writing results.
pub async fn renew_lease(
    db: &impl ConnectionTrait,
    run_id: i64,
    worker: &str,
    lease: Duration,
) -> Result<bool, DbErr> {
    let res = Run::update_many()
        .col_expr(
            Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Utc::now() + lease),
        )
        .filter(Column::Id.eq(run_id))
        .filter(Column::Status.eq(RunStatus::Running))
        .filter(Column::LeasedBy.eq(worker))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// What one attempt found out and cost. The run adds up fetches and requests over its attempts;
/// shas and file counts are the latest attempt's that got that far (None: it did not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub from_sha: Option<Sha>,
    pub target_sha: Option<Sha>,
    pub files_total: Option<i64>,
    pub files_changed: Option<i64>,
    pub files_fetched: i64,
    pub bytes_fetched: i64,
    pub api_requests: i64,
}

impl RunCounts {
    fn cost(&self) -> Cost {
        Cost {
            files_fetched: self.files_fetched,
            bytes_fetched: self.bytes_fetched,
            api_requests: self.api_requests,
        }
    }

    fn apply(&self, run: &sync_runs::Model, am: &mut sync_runs::ActiveModel) {
        if self.from_sha.is_some() {
            am.from_sha = Set(self.from_sha.clone());
        }
        if self.target_sha.is_some() {
            am.target_sha = Set(self.target_sha.clone());
        }
        if let Some(n) = self.files_total {
            am.files_total = Set(n);
        }
        if let Some(n) = self.files_changed {
            am.files_changed = Set(n);
        }
        am.files_fetched = Set(run.files_fetched + self.files_fetched);
        am.bytes_fetched = Set(run.bytes_fetched + self.bytes_fetched);
        am.api_requests = Set(run.api_requests + self.api_requests);
    }
}

/// The branch's sha when the attempt starts, so a running run shows where it comes from.
pub(crate) async fn set_from_sha(
    db: &impl ConnectionTrait,
    run_id: i64,
    from_sha: Option<&str>,
) -> Result<(), DbErr> {
    Run::update_many()
        .col_expr(
            Column::FromSha,
            sea_orm::sea_query::Expr::value(from_sha.map(str::to_owned)),
        )
        .filter(Column::Id.eq(run_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Ends a run this worker holds, and its attempt. Returns None when the lease was lost meanwhile.
pub async fn finish(
    db: &impl ConnectionTrait,
    run_id: i64,
    worker: &str,
    status: RunStatus,
    counts: &RunCounts,
    error: Option<&str>,
) -> Result<Option<sync_runs::Model>, DbErr> {
    let Some(run) = held_run(db, run_id, worker).await? else {
        return Ok(None);
    };
    let attempt = match status {
        RunStatus::Succeeded => AttemptStatus::Succeeded,
        RunStatus::Superseded => AttemptStatus::Superseded,
        _ => AttemptStatus::Failed,
    };
    attempts::end(db, &run, worker, attempt, counts.cost(), error).await?;
    let mut am: sync_runs::ActiveModel = run.clone().into();
    counts.apply(&run, &mut am);
    am.status = Set(status);
    am.lease_until = Set(None);
    am.finished_at = Set(Some(Utc::now()));
    am.error = Set(error.map(str::to_owned));
    am.update(db).await.map(Some)
}

/// Puts a run back in the queue to be retried after `delay`, ending its attempt as `attempt`
/// (failed, or interrupted by a shutdown). When a follow-up run is already queued for the branch,
/// that run will do the work: this one ends superseded instead. Returns the updated run, or None
/// when the lease was lost.
pub async fn retry_later(
    db: &impl ConnectionTrait,
    run_id: i64,
    worker: &str,
    delay: Duration,
    attempt: AttemptStatus,
    counts: &RunCounts,
    error: &str,
) -> Result<Option<sync_runs::Model>, DbErr> {
    let Some(run) = held_run(db, run_id, worker).await? else {
        return Ok(None);
    };
    attempts::end(db, &run, worker, attempt, counts.cost(), Some(error)).await?;
    let follow_up = queued_run(db, run.project_sync_id).await?.is_some();
    let mut am: sync_runs::ActiveModel = run.clone().into();
    counts.apply(&run, &mut am);
    am.lease_until = Set(None);
    am.error = Set(Some(error.to_owned()));
    if follow_up {
        am.status = Set(RunStatus::Superseded);
        am.finished_at = Set(Some(Utc::now()));
    } else {
        am.status = Set(RunStatus::Queued);
        am.leased_by = Set(None);
        am.not_before = Set(Some(Utc::now() + delay));
    }
    am.update(db).await.map(Some)
}

async fn held_run(
    db: &impl ConnectionTrait,
    run_id: i64,
    worker: &str,
) -> Result<Option<sync_runs::Model>, DbErr> {
    Run::find_by_id(run_id)
        .filter(Column::Status.eq(RunStatus::Running))
        .filter(Column::LeasedBy.eq(worker))
        .one(db)
        .await
}

pub async fn get(
    db: &impl ConnectionTrait,
    run_id: i64,
) -> Result<Option<sync_runs::Model>, DbErr> {
    Run::find_by_id(run_id).one(db).await
}

/// A branch's runs, newest first.
pub async fn history(
    db: &impl ConnectionTrait,
    project_sync_ids: &[i64],
    limit: u64,
) -> Result<Vec<sync_runs::Model>, DbErr> {
    Run::find()
        .filter(Column::ProjectSyncId.is_in(project_sync_ids.iter().copied()))
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Queued runs of these branches that should no longer happen end `superseded`; a running one is
/// stopped by the worker's own checks.
pub(crate) async fn supersede_queued(
    db: &impl ConnectionTrait,
    project_sync_ids: &[i64],
) -> Result<(), DbErr> {
    Run::update_many()
        .col_expr(
            Column::Status,
            sea_orm::sea_query::Expr::value(RunStatus::Superseded),
        )
        .col_expr(
            Column::FinishedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(Column::ProjectSyncId.is_in(project_sync_ids.iter().copied()))
        .filter(Column::Status.eq(RunStatus::Queued))
        .exec(db)
        .await
        .map(|_| ())
}

/// Whether the branch has a run queued or running.
pub(crate) async fn is_busy(
    db: &impl ConnectionTrait,
    project_sync_id: i64,
) -> Result<bool, DbErr> {
    Ok(Run::find()
        .filter(Column::ProjectSyncId.eq(project_sync_id))
        .filter(Column::Status.is_in([RunStatus::Queued, RunStatus::Running]))
        .one(db)
        .await?
        .is_some())
}
