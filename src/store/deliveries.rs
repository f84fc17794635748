//! Webhook deliveries: the durable inbox. Stored before they are acknowledged, processed from
//! here in order per installation, by whichever hubsync process claims them first.
use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::OnConflict,
    sqlx::{self, PgPool},
    ActiveValue::Set,
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryTrait, RuntimeErr, Statement, Value,
};

use super::entities::deliveries;
pub use super::entities::deliveries::DeliveryStatus;

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

/// Stores a batch of deliveries in one statement (one commit), skipping those whose delivery id
/// is stored already. Returns, for each, whether it was new; of copies within the batch only the
/// first can be. The unique index keeps this right when other processes store copies too.
pub(crate) async fn insert_new(
    db: &DatabaseConnection,
    batch: &[NewDelivery],
) -> Result<Vec<bool>, DbErr> {
    let now = Utc::now();
    let mut seen = HashSet::new();
    let first: Vec<bool> = batch
        .iter()
        .map(|d| seen.insert(d.delivery_id.as_str()))
        .collect();
    let rows: Vec<&NewDelivery> = batch
        .iter()
        .zip(&first)
        .filter_map(|(d, first)| first.then_some(d))
        .collect();
    let stored = match db.get_database_backend() {
        DatabaseBackend::Postgres => insert_arrays(db.get_postgres_connection_pool(), &rows, now)
            .await
            .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))))?,
        _ => insert_values(db, &rows, now).await?,
    };
    Ok(batch
        .iter()
        .zip(first)
        .map(|(d, first)| first && stored.contains(&d.delivery_id))
        .collect())
}

/// PostgreSQL: one column array per parameter, so the statement is the same for every batch
/// size. It is prepared and planned once per connection; a VALUES list of 13 parameters per row
/// was a new statement, parsed and planned again, for each batch size.
async fn insert_arrays(
    pool: &PgPool,
    rows: &[&NewDelivery],
    now: DateTime<Utc>,
) -> Result<HashSet<String>, sqlx::Error> {
    const INSERT: &str = "INSERT INTO deliveries (delivery_id, event, action, installation_id, \
            hook_id, headers, payload, status, attempts, received_at, processed_at) \
        SELECT d, e, a, i, h, hd::json, p, s, 0, $9, pa \
        FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[], \
            $7::text[], $8::text[], $10::timestamptz[]) AS t(d, e, a, i, h, hd, p, s, pa) \
        ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id";
    let column = |f: fn(&NewDelivery) -> &str| rows.iter().map(|d| f(d)).collect::<Vec<_>>();
    let headers: Vec<String> = rows.iter().map(|d| d.headers.to_string()).collect();
    let stored: Vec<String> = sqlx::query_scalar(INSERT)
        .bind(column(|d| &d.delivery_id))
        .bind(column(|d| &d.event))
        .bind(rows.iter().map(|d| d.action.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|d| d.installation_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|d| d.hook_id).collect::<Vec<_>>())
        .bind(headers)
        .bind(column(|d| &d.payload))
        .bind(column(|d| d.status.as_str()))
        .bind(now)
        .bind(rows.iter().map(|d| d.processed_at(now)).collect::<Vec<_>>())
        .fetch_all(pool)
        .await?;
    Ok(stored.into_iter().collect())
}

/// SQLite: a multi-row VALUES list (it has no arrays; statements are cheap to prepare there).
async fn insert_values(
    db: &DatabaseConnection,
    rows: &[&NewDelivery],
    now: DateTime<Utc>,
) -> Result<HashSet<String>, DbErr> {
    let mut insert =
        deliveries::Entity::insert_many(rows.iter().map(|d| row(d, now)).collect::<Vec<_>>())
            .on_conflict(
                OnConflict::column(deliveries::Column::DeliveryId)
                    .do_nothing()
                    .to_owned(),
            )
            .into_query();
    insert.returning_col(deliveries::Column::DeliveryId);
    let backend = db.get_database_backend();
    db.query_all_raw(backend.build(&insert))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "delivery_id"))
        .collect()
}

impl NewDelivery {
    /// A delivery stored as already done (ignored) is processed when it is received.
    fn processed_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (self.status != DeliveryStatus::Received).then_some(now)
    }
}

fn row(d: &NewDelivery, now: DateTime<Utc>) -> deliveries::ActiveModel {
    deliveries::ActiveModel {
        delivery_id: Set(d.delivery_id.clone()),
        event: Set(d.event.clone()),
        action: Set(d.action.clone()),
        installation_id: Set(d.installation_id),
        hook_id: Set(d.hook_id),
        headers: Set(d.headers.clone()),
        payload: Set(d.payload.clone()),
        status: Set(d.status),
        attempts: Set(0),
        error: Set(None),
        not_before: Set(None),
        received_at: Set(now),
        processed_at: Set(d.processed_at(now)),
        ..Default::default()
    }
}

/// A delivery claimed for processing by the current transaction.
#[derive(Debug, Clone, FromQueryResult)]
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
        // SQLite takes numbered parameters as ?N.
        DatabaseBackend::Sqlite => pg
            .replace("$1", "?1")
            .replace("$2", "?2")
            .replace("$3", "?3")
            .replace("$4", "?4"),
        _ => pg.to_owned(),
    }
}

fn at(t: DateTime<Utc>) -> Value {
    t.into()
}

/// A delivery waiting to be processed, as the processor's pass sees it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Waiting {
    pub id: i64,
    pub installation_id: Option<i64>,
    pub not_before: Option<DateTime<Utc>>,
}

impl Waiting {
    pub(crate) fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.not_before.is_none_or(|t| t <= now)
    }
}

/// Up to `limit` waiting deliveries with ids above `after`, in id order. The processor walks
/// them page by page and keeps the per-installation order itself: a join that found each
/// installation's earliest delivery in SQL left the plan to the statistics, and PostgreSQL,
/// with statistics from before a burst, checked every waiting row against every other.
pub async fn waiting(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<Waiting>, DbErr> {
    let backend = db.get_database_backend();
    // Pinned: SQLite's planner chose (status, installation_id, id) here while that index
    // existed, then sorted every waiting row by id.
    let due = match backend {
        DatabaseBackend::Sqlite => "INDEXED BY idx_deliveries_due",
        _ => "",
    };
    Waiting::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            &format!(
                "SELECT id, installation_id, not_before FROM deliveries {due} \
                 WHERE status = 'received' AND id > $1 ORDER BY id LIMIT $2"
            ),
        ),
        [after.into(), (limit as i64).into()],
    ))
    .all(db)
    .await
}

/// Claims the chunk's deliveries that are still waiting, in id order, for the current
/// transaction: one statement for the chunk, not one per delivery (each statement is a round
/// trip, and on SQLite two thread hand-offs; they were most of a delivery's processing time).
/// On PostgreSQL the rows stay locked until the transaction ends, and a missing one may also be
/// held by another process. The attempt is counted when it ends (`finish`, `retry_later`), in the
/// same transaction, so a rolled-back chunk counts none.
pub async fn claim(txn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<Claimed>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = txn.get_database_backend();
    let lock = match backend {
        DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let sql = format!(
        "SELECT id, delivery_id, event, payload, attempts FROM deliveries \
         WHERE id IN ({}) AND status = 'received' ORDER BY id{lock}",
        placeholders(backend, 1, ids.len())
    );
    let values: Vec<Value> = ids.iter().map(|&id| id.into()).collect();
    let rows = Claimed::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(txn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|c| Claimed {
            attempts: c.attempts + 1,
            ..c
        })
        .collect())
}

/// `$first, …` (PostgreSQL) or `?first, …` (SQLite) for `n` parameters.
fn placeholders(backend: DatabaseBackend, first: usize, n: usize) -> String {
    let mark = match backend {
        DatabaseBackend::Sqlite => '?',
        _ => '$',
    };
    (first..first + n)
        .map(|i| format!("{mark}{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Records the end of processing for deliveries that ended alike (processed, ignored or failed,
/// with the same reason if any), counting their attempt: one statement for all of them.
pub async fn finish(
    txn: &impl ConnectionTrait,
    ids: &[i64],
    status: DeliveryStatus,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let sql = sql(
        backend,
        &format!(
            "UPDATE deliveries SET status = $1, error = $2, processed_at = $3, \
             not_before = NULL, attempts = attempts + 1 WHERE id IN ({})",
            placeholders(backend, 4, ids.len())
        ),
    );
    let mut values: Vec<Value> = vec![
        status.as_str().into(),
        error.map(str::to_owned).into(),
        at(now),
    ];
    values.extend(ids.iter().map(|&id| Value::from(id)));
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Leaves a failed attempt waiting for a retry at `not_before`, counting it.
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
            "UPDATE deliveries SET error = $1, not_before = $2, attempts = attempts + 1 \
             WHERE id = $3",
        ),
        [error.into(), at(not_before), id.into()],
    ))
    .await?;
    Ok(())
}

/// When the earliest delivery waiting for a retry becomes due, if any.
pub(crate) async fn next_retry_at(
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
