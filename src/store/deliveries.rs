//! Webhook deliveries: the durable inbox. Stored before they are acknowledged, processed from
//! here in order per installation, by whichever hubsync process claims them first.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, Statement,
    TryInsertResult, Value,
};

use super::entities::deliveries;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Stored, waiting to be processed (or retried).
    Received,
    Processed,
    /// An event or action hubsync does not act on.
    Ignored,
    /// Gave up after the bounded number of attempts; `error` says why.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processed => "processed",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }
}

pub struct NewDelivery {
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub hook_id: Option<i64>,
    pub headers: serde_json::Value,
    pub payload: String,
    pub status: DeliveryStatus,
}

/// Stores a delivery unless one with the same delivery id exists. Returns whether it was new;
/// the unique index makes this safe when copies arrive concurrently.
pub async fn insert_new(db: &impl ConnectionTrait, d: NewDelivery) -> Result<bool, DbErr> {
    let now = Utc::now();
    let done = d.status != DeliveryStatus::Received;
    let row = deliveries::ActiveModel {
        delivery_id: Set(d.delivery_id),
        event: Set(d.event),
        action: Set(d.action),
        installation_id: Set(d.installation_id),
        hook_id: Set(d.hook_id),
        headers: Set(d.headers),
        payload: Set(d.payload),
        status: Set(d.status.as_str().to_owned()),
        attempts: Set(0),
        error: Set(None),
        not_before: Set(None),
        received_at: Set(now),
        processed_at: Set(done.then_some(now)),
        ..Default::default()
    };
    let result = deliveries::Entity::insert(row)
        .on_conflict_do_nothing_on([deliveries::Column::DeliveryId])
        .exec_without_returning(db)
        .await?;
    Ok(matches!(result, TryInsertResult::Inserted(n) if n > 0))
}

/// A delivery claimed for processing by the current transaction.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub delivery_id: String,
    pub event: String,
    pub payload: String,
    /// Including this one.
    pub attempts: i32,
}

fn sql(backend: DatabaseBackend, pg: &str) -> String {
    match backend {
        // SQLite takes numbered parameters as ?N and has no row locks (writers are serialised).
        DatabaseBackend::Sqlite => pg
            .replace("$1", "?1")
            .replace("$2", "?2")
            .replace("$3", "?3")
            .replace("$4", "?4")
            .replace(" FOR UPDATE SKIP LOCKED", ""),
        _ => pg.to_owned(),
    }
}

fn at(t: DateTime<Utc>) -> Value {
    t.into()
}

/// Claims the next delivery that is due, counting the attempt. A delivery is only due when no
/// earlier delivery of its installation is still waiting, which keeps each installation's
/// deliveries in order. On PostgreSQL the row stays locked until the caller's transaction ends,
/// and other processes skip it; an earlier delivery locked by another process still counts as
/// waiting, so they cannot overtake it either.
pub async fn claim_next(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Option<Claimed>, DbErr> {
    let backend = txn.get_database_backend();
    let stmt = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE deliveries SET attempts = attempts + 1 WHERE id = (
               SELECT d.id FROM deliveries d
               WHERE d.status = 'received'
                 AND (d.not_before IS NULL OR d.not_before <= $1)
                 AND NOT EXISTS (
                   SELECT 1 FROM deliveries e
                   WHERE e.status = 'received'
                     AND e.installation_id = d.installation_id
                     AND e.id < d.id)
               ORDER BY d.id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, delivery_id, event, payload, attempts",
        ),
        [at(now)],
    );
    let Some(row) = txn.query_one_raw(stmt).await? else {
        return Ok(None);
    };
    Ok(Some(Claimed {
        id: row.try_get("", "id")?,
        delivery_id: row.try_get("", "delivery_id")?,
        event: row.try_get("", "event")?,
        payload: row.try_get("", "payload")?,
        attempts: row.try_get("", "attempts")?,
    }))
}

/// Records the end of processing: processed, ignored or failed, with the reason if any.
pub async fn finish(
    txn: &impl ConnectionTrait,
    id: i64,
    status: DeliveryStatus,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE deliveries SET status = $1, error = $2, processed_at = $3, not_before = NULL \
             WHERE id = $4",
        ),
        [
            status.as_str().into(),
            error.map(str::to_owned).into(),
            at(now),
            id.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Leaves a failed attempt waiting for a retry at `not_before`.
pub async fn retry_later(
    txn: &impl ConnectionTrait,
    id: i64,
    error: &str,
    not_before: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE deliveries SET error = $1, not_before = $2 WHERE id = $3",
        ),
        [error.into(), at(not_before), id.into()],
    ))
    .await?;
    Ok(())
}

/// When the earliest delivery waiting for a retry becomes due, if any.
pub async fn next_retry_at(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "SELECT MIN(not_before) AS due FROM deliveries \
                 WHERE status = 'received' AND not_before > $1",
            ),
            [at(now)],
        ))
        .await?;
    match row {
        Some(row) => row.try_get::<Option<DateTime<Utc>>>("", "due"),
        None => Ok(None),
    }
}
