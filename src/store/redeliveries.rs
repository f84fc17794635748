//! Redelivery requests, one row per delivery GUID: claimed before GitHub is asked, so two
//! replicas (or two passes) never ask for the same delivery at once, and a delivery that keeps
//! failing is asked for a bounded number of times.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};

use super::entities::{
    deliveries,
    webhook_redeliveries::{self, Column, Entity as Redelivery, Model, RedeliveryStatus},
};
use super::queue::Claim;

/// Of `guids`, those stored in the delivery log (whatever their processing status).
pub(crate) async fn stored_guids(
    db: &impl ConnectionTrait,
    guids: &[String],
) -> Result<HashSet<String>, DbErr> {
    if guids.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<String> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::DeliveryId)
        .filter(deliveries::Column::DeliveryId.is_in(guids.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// A failed delivery GitHub listed, as the claim records it.
#[derive(Debug, Clone)]
pub struct Failed {
    pub guid: String,
    pub github_delivery_id: i64,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub status_code: i32,
}

/// Claims the right to ask GitHub for one more redelivery of `f.guid`: the first time, or when
/// fewer than `max_requests` were made and the last is older than `min_gap`. False: another
/// replica or an earlier pass has asked (recently, or often enough).
pub async fn claim(
    db: &impl ConnectionTrait,
    f: &Failed,
    now: DateTime<Utc>,
    max_requests: i32,
    min_gap: chrono::Duration,
) -> Result<bool, DbErr> {
    let row = webhook_redeliveries::ActiveModel {
        guid: Set(f.guid.clone()),
        github_delivery_id: Set(f.github_delivery_id),
        event: Set(f.event.clone()),
        action: Set(f.action.clone()),
        installation_id: Set(f.installation_id),
        status_code: Set(f.status_code),
        requests: Set(1),
        status: Set(RedeliveryStatus::Requested),
        error: Set(None),
        first_requested_at: Set(now),
        last_requested_at: Set(now),
    };
    let inserted = Redelivery::insert(row)
        .on_conflict(OnConflict::column(Column::Guid).do_nothing().to_owned())
        .try_insert()
        .exec_without_returning(db)
        .await?;
    if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(true);
    }
    // Asked before: a claim like any queue's, so two replicas never both win the same request.
    let again = Claim {
        table: "webhook_redeliveries",
        key: "guid",
        alias: "w",
        joins: "",
        set: "requests = requests + 1, last_requested_at = $1, github_delivery_id = $2, \
              status_code = $3",
        due: "w.guid = $4 AND w.requests < $5 AND w.last_requested_at < $6",
        order: "",
        limit: "",
        returning: "guid",
    }
    .statement(
        db.get_database_backend(),
        [
            now.into(),
            f.github_delivery_id.into(),
            f.status_code.into(),
            f.guid.clone().into(),
            max_requests.into(),
            (now - min_gap).into(),
        ],
    );
    Ok(db.query_one_raw(again).await?.is_some())
}

/// What GitHub answered to the request: accepted (None) or the error.
pub(crate) async fn record_answer(
    db: &impl ConnectionTrait,
    guid: &str,
    error: Option<String>,
) -> Result<(), DbErr> {
    let status = if error.is_some() {
        RedeliveryStatus::Refused
    } else {
        RedeliveryStatus::Requested
    };
    Redelivery::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::Error, Expr::value(error))
        .filter(Column::Guid.eq(guid))
        .exec(db)
        .await?;
    Ok(())
}

/// The latest requests, newest first.
pub async fn recent(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<Model>, DbErr> {
    Redelivery::find()
        .order_by_desc(Column::LastRequestedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Gives back a claim whose request was never answered (GitHub's rate limit stopped the pass):
/// the next pass may ask at once.
pub async fn release(
    db: &impl ConnectionTrait,
    guid: &str,
    now: DateTime<Utc>,
    min_gap: chrono::Duration,
) -> Result<(), DbErr> {
    Redelivery::delete_many()
        .filter(Column::Guid.eq(guid))
        .filter(Column::Requests.lte(1))
        .exec(db)
        .await?;
    Redelivery::update_many()
        .col_expr(Column::Requests, Expr::col(Column::Requests).sub(1))
        .col_expr(
            Column::LastRequestedAt,
            Expr::value(now - min_gap - chrono::Duration::seconds(1)),
        )
        .filter(Column::Guid.eq(guid))
        .exec(db)
        .await?;
    Ok(())
}
