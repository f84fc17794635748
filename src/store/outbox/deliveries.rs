//! Claiming, recording and listing outbox deliveries.
//!
//! Each subscription receives its deliveries in order, one at a time: only its oldest pending
//! delivery may be claimed, so while it waits for a retry the later ones wait too, a receiver that
//! is down gets one request per backoff step whatever the traffic, and the run of consecutive
//! failures measures time, not volume. A claim is a lease (PostgreSQL skips rows other replicas
//! are claiming); a worker that dies mid-request leaves it to expire, and the delivery is sent
//! again (at least once).
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    ExprTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use super::DeliveryStatus;
use crate::ids::SubscriptionId;
use crate::{
    secret::SigningSecret,
    store::entities::{
        outbox_attempts,
        outbox_deliveries::{self, Column, Entity as Delivery},
        webhook_subscriptions,
    },
    store::queue::Claim,
};

/// A claimed delivery with where and how to send it.
pub struct Claimed {
    pub delivery: outbox_deliveries::Model,
    pub url: String,
    pub secret: SigningSecret,
}

/// Claims up to `limit` due deliveries, each the oldest pending one of its subscription.
pub async fn claim(
    db: &DatabaseConnection,
    worker: &str,
    lease: Duration,
    limit: u64,
) -> Result<Vec<Claimed>, DbErr> {
    let now = Utc::now();
    let stmt = Claim {
        table: "outbox_deliveries",
        key: "id",
        alias: "d",
        joins: "JOIN webhook_subscriptions s ON s.id = d.subscription_id",
        set: "lease_until = $1, leased_by = $2",
        due: "d.status = 'pending' AND d.next_attempt_at <= $3 \
              AND (d.lease_until IS NULL OR d.lease_until < $3) \
              AND s.enabled = $4 AND s.deleted_at IS NULL \
              AND NOT EXISTS (SELECT 1 FROM outbox_deliveries e \
                              WHERE e.subscription_id = d.subscription_id \
                                AND e.status = 'pending' AND e.id < d.id)",
        order: "d.next_attempt_at, d.id",
        limit: "$5",
        returning: "*",
    }
    .statement(
        db.get_database_backend(),
        [
            (now + lease).into(),
            worker.into(),
            now.into(),
            true.into(),
            (limit as i64).into(),
        ],
    );
    let txn = crate::store::begin_write(db).await?;
    let claimed = outbox_deliveries::Model::find_by_statement(stmt)
        .all(&txn)
        .await?;
    txn.commit().await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = claimed.iter().map(|d| d.subscription_id).collect();
    let subs: HashMap<i64, webhook_subscriptions::Model> = webhook_subscriptions::Entity::find()
        .filter(webhook_subscriptions::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    Ok(claimed
        .into_iter()
        .filter_map(|d| {
            let s = subs.get(&d.subscription_id)?;
            Some(Claimed {
                url: s.url.clone(),
                secret: s.secret.clone(),
                delivery: d,
            })
        })
        .collect())
}

/// When the next claimable delivery falls due (the oldest pending one of an enabled
/// subscription, not leased), if any is waiting.
pub(crate) async fn next_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, DbErr> {
    let sql = "SELECT MIN(d.next_attempt_at) AS due FROM outbox_deliveries d \
               JOIN webhook_subscriptions s ON s.id = d.subscription_id \
               WHERE d.status = 'pending' AND s.enabled = $1 AND s.deleted_at IS NULL \
                 AND (d.lease_until IS NULL OR d.lease_until < $2) \
                 AND NOT EXISTS (SELECT 1 FROM outbox_deliveries e \
                                 WHERE e.subscription_id = d.subscription_id \
                                   AND e.status = 'pending' AND e.id < d.id)";
    #[derive(FromQueryResult)]
    struct Due {
        due: Option<DateTime<Utc>>,
    }
    let backend = db.get_database_backend();
    let stmt = Statement::from_sql_and_values(backend, sql, [true.into(), Utc::now().into()]);
    Ok(Due::find_by_statement(stmt)
        .one(db)
        .await?
        .and_then(|d| d.due))
}

/// What one POST came to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    /// None: delivered (a 2xx answer).
    pub error: Option<String>,
}

/// What becomes of the delivery after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// Its retry window is over: ends `failed`.
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Done,
    /// This attempt disabled the subscription (the run of failures reached the limit).
    Disabled,
    /// The lease was lost (it expired and another worker claimed it, or the subscription was
    /// deleted): nothing recorded.
    LeaseLost,
}

/// Records an attempt of a delivery this worker holds, the delivery's new state and the
/// subscription's run of failures, together.
pub async fn record(
    db: &DatabaseConnection,
    delivery: &outbox_deliveries::Model,
    worker: &str,
    outcome: &AttemptOutcome,
    next: Next,
    disable_after: u32,
) -> Result<Recorded, DbErr> {
    let attempt = delivery.attempts + 1;
    let txn = crate::store::begin_write(db).await?;
    let mut update = Delivery::update_many()
        .col_expr(Column::Attempts, Expr::value(attempt))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LeasedBy, Expr::value(Option::<String>::None))
        .col_expr(Column::LastStatusCode, Expr::value(outcome.status_code))
        .col_expr(Column::LastDurationMs, Expr::value(outcome.duration_ms))
        .col_expr(Column::LastError, Expr::value(outcome.error.clone()));
    update = match next {
        Next::Delivered => update
            .col_expr(Column::Status, Expr::value(DeliveryStatus::Succeeded))
            .col_expr(Column::DeliveredAt, Expr::value(Utc::now())),
        Next::RetryAt(at) => update.col_expr(Column::NextAttemptAt, Expr::value(at)),
        Next::GiveUp => update.col_expr(Column::Status, Expr::value(DeliveryStatus::Failed)),
    };
    let held = update
        .filter(Column::Id.eq(delivery.id))
        .filter(Column::Status.eq(DeliveryStatus::Pending))
        .filter(Column::LeasedBy.eq(worker))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !held {
        return Ok(Recorded::LeaseLost);
    }
    outbox_attempts::Entity::insert(outbox_attempts::ActiveModel {
        delivery_id: Set(delivery.id),
        attempt: Set(attempt),
        started_at: Set(outcome.started_at),
        duration_ms: Set(outcome.duration_ms),
        status_code: Set(outcome.status_code),
        error: Set(outcome.error.clone()),
        worker: Set(worker.to_owned()),
        ..Default::default()
    })
    .exec_without_returning(&txn)
    .await?;
    use webhook_subscriptions::{Column as S, Entity as Sub};
    let mut recorded = Recorded::Done;
    if next == Next::Delivered {
        Sub::update_many()
            .col_expr(S::ConsecutiveFailures, Expr::value(0))
            .filter(S::Id.eq(delivery.subscription_id))
            .exec(&txn)
            .await?;
    } else {
        Sub::update_many()
            .col_expr(
                S::ConsecutiveFailures,
                Expr::col(S::ConsecutiveFailures).add(1),
            )
            .filter(S::Id.eq(delivery.subscription_id))
            .exec(&txn)
            .await?;
        let reason = format!("disabled after {disable_after} consecutive failed attempts");
        let disabled = Sub::update_many()
            .col_expr(S::Enabled, Expr::value(false))
            .col_expr(S::DisabledAt, Expr::value(Utc::now()))
            .col_expr(S::DisabledReason, Expr::value(reason))
            .filter(S::Id.eq(delivery.subscription_id))
            .filter(S::Enabled.eq(true))
            .filter(S::ConsecutiveFailures.gte(disable_after as i32))
            .exec(&txn)
            .await?
            .rows_affected;
        if disabled == 1 {
            recorded = Recorded::Disabled;
        }
    }
    txn.commit().await?;
    Ok(recorded)
}

/// Hands back the deliveries this worker holds (at shutdown), to be claimed again at once.
pub async fn release(db: &impl ConnectionTrait, worker: &str) -> Result<u64, DbErr> {
    Ok(Delivery::update_many()
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LeasedBy, Expr::value(Option::<String>::None))
        .filter(Column::LeasedBy.eq(worker))
        .filter(Column::Status.eq(DeliveryStatus::Pending))
        .exec(db)
        .await?
        .rows_affected)
}

pub(super) async fn cancel_pending(
    db: &impl ConnectionTrait,
    subscription_id: i64,
) -> Result<u64, DbErr> {
    Ok(Delivery::update_many()
        .col_expr(Column::Status, Expr::value(DeliveryStatus::Cancelled))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::SubscriptionId.eq(subscription_id))
        .filter(Column::Status.eq(DeliveryStatus::Pending))
        .exec(db)
        .await?
        .rows_affected)
}

/// Makes a delivery due now again (pending, whatever it ended as). None when the subscription has
/// no such delivery.
pub async fn redeliver(
    db: &impl ConnectionTrait,
    subscription_id: SubscriptionId,
    delivery_id: i64,
) -> Result<Option<outbox_deliveries::Model>, DbErr> {
    let Some(d) = find(db, subscription_id, delivery_id).await? else {
        return Ok(None);
    };
    if d.status == DeliveryStatus::Cancelled {
        return Ok(Some(d));
    }
    Delivery::update_many()
        .col_expr(Column::Status, Expr::value(DeliveryStatus::Pending))
        .col_expr(Column::NextAttemptAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(delivery_id))
        .exec(db)
        .await?;
    find(db, subscription_id, delivery_id).await
}

async fn find(
    db: &impl ConnectionTrait,
    subscription_id: SubscriptionId,
    delivery_id: i64,
) -> Result<Option<outbox_deliveries::Model>, DbErr> {
    Delivery::find_by_id(delivery_id)
        .filter(Column::SubscriptionId.eq(subscription_id.0))
        .one(db)
        .await
}

/// A subscription's deliveries, newest first (ids below `before`), each with its attempts.
pub async fn log(
    db: &impl ConnectionTrait,
    subscription_id: SubscriptionId,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<(outbox_deliveries::Model, Vec<outbox_attempts::Model>)>, DbErr> {
    let mut q = Delivery::find().filter(Column::SubscriptionId.eq(subscription_id.0));
    if let Some(b) = before {
        q = q.filter(Column::Id.lt(b));
    }
    let rows = q.order_by_desc(Column::Id).limit(limit).all(db).await?;
    let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
    let mut attempts: HashMap<i64, Vec<outbox_attempts::Model>> = HashMap::new();
    for a in outbox_attempts::Entity::find()
        .filter(outbox_attempts::Column::DeliveryId.is_in(ids))
        .order_by_asc(outbox_attempts::Column::Attempt)
        .all(db)
        .await?
    {
        attempts.entry(a.delivery_id).or_default().push(a);
    }
    Ok(rows
        .into_iter()
        .map(|d| {
            let a = attempts.remove(&d.id).unwrap_or_default();
            (d, a)
        })
        .collect())
}

/// Deliveries per subscription and status, for the status page.
pub async fn counts(
    db: &impl ConnectionTrait,
) -> Result<HashMap<(i64, DeliveryStatus), i64>, DbErr> {
    let rows: Vec<(i64, DeliveryStatus, i64)> = Delivery::find()
        .select_only()
        .column(Column::SubscriptionId)
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::SubscriptionId)
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(s, st, n)| ((s, st), n)).collect())
}
