//! The outgoing webhooks' durable side: subscriptions, and the outbox of deliveries that a run's
//! outcome writes in its own transaction (`enqueue`), so an event is either recorded with the
//! run or not at all. Delivering them is `crate::outbox`'s job (deliveries.rs claims and records).
pub mod deliveries;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    ExprTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

pub use super::entities::outbox_deliveries::{DeliveryStatus, EventType};
use super::{
    changes::Counts,
    entities::{
        outbox_deliveries,
        webhook_subscriptions::{self, Column, Entity as Subscription},
    },
};
use crate::secret::SigningSecret;

/// Subscriptions at most: each event fans out to every matching one inside the run's commit.
pub(crate) const MAX_SUBSCRIPTIONS: u64 = 100;

pub struct NewSubscription {
    pub url: String,
    pub project_id: Option<i64>,
    pub events: Vec<EventType>,
    pub secret: SigningSecret,
}

/// The event types a subscription wants (an unreadable list wants none).
pub(crate) fn events_of(s: &webhook_subscriptions::Model) -> Vec<EventType> {
    serde_json::from_str(&s.events).unwrap_or_default()
}

pub async fn create(
    db: &impl ConnectionTrait,
    new: NewSubscription,
) -> Result<webhook_subscriptions::Model, DbErr> {
    let events = serde_json::to_string(&new.events).map_err(|e| DbErr::Custom(e.to_string()))?;
    webhook_subscriptions::ActiveModel {
        url: Set(new.url),
        project_id: Set(new.project_id),
        events: Set(events),
        secret: Set(new.secret),
        enabled: Set(true),
        consecutive_failures: Set(0),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Subscriptions not deleted, oldest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<webhook_subscriptions::Model>, DbErr> {
    Subscription::find()
        .filter(Column::DeletedAt.is_null())
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Subscription::find()
        .filter(Column::DeletedAt.is_null())
        .count(db)
        .await
}

pub async fn find(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<webhook_subscriptions::Model>, DbErr> {
    Subscription::find_by_id(id)
        .filter(Column::DeletedAt.is_null())
        .one(db)
        .await
}

/// Deletes a subscription (kept as a row, with its delivery log) and cancels what it had pending.
/// False when there was none.
pub async fn delete(db: &DatabaseConnection, id: i64) -> Result<bool, DbErr> {
    let txn = super::begin_write(db).await?;
    let Some(sub) = find(&txn, id).await? else {
        return Ok(false);
    };
    let mut am: webhook_subscriptions::ActiveModel = sub.into();
    am.deleted_at = Set(Some(Utc::now()));
    am.enabled = Set(false);
    am.update(&txn).await?;
    deliveries::cancel_pending(&txn, id).await?;
    txn.commit().await?;
    Ok(true)
}

/// Enables (clearing the failure count) or disables a subscription; None when there is none.
pub(crate) async fn set_enabled(
    db: &impl ConnectionTrait,
    id: i64,
    enabled: bool,
) -> Result<Option<webhook_subscriptions::Model>, DbErr> {
    let Some(sub) = find(db, id).await? else {
        return Ok(None);
    };
    if sub.enabled == enabled {
        return Ok(Some(sub));
    }
    let mut am: webhook_subscriptions::ActiveModel = sub.into();
    am.enabled = Set(enabled);
    if enabled {
        am.consecutive_failures = Set(0);
        am.disabled_at = Set(None);
        am.disabled_reason = Set(None);
    } else {
        am.disabled_at = Set(Some(Utc::now()));
        am.disabled_reason = Set(Some("disabled through the API".into()));
    }
    am.update(db).await.map(Some)
}

/// How a run ended, as its webhook tells it.
pub struct Outcome<'a> {
    pub event: EventType,
    pub project_id: i64,
    pub repository: &'a str,
    pub branch: &'a str,
    pub run_id: i64,
    pub commit_sha: Option<&'a str>,
    pub previous_sha: Option<&'a str>,
    pub counts: Counts,
    /// The feed's cursor once this run's changes are in it (None for a failed run).
    pub changes_cursor: Option<i64>,
    /// Why a failed run failed.
    pub error: Option<&'a str>,
}

impl Outcome<'_> {
    /// The body every subscriber receives, fixed now (its timestamp is the event's time).
    fn body(&self) -> Result<String, DbErr> {
        let body = Body {
            data: Data {
                branch: self.branch,
                changes_cursor: self.changes_cursor.map(|c| c.to_string()),
                commit_sha: self.commit_sha,
                counts: self.counts,
                error: self.error,
                previous_sha: self.previous_sha,
                project_id: self.project_id,
                repository: self.repository,
                run_id: self.run_id,
            },
            timestamp: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            kind: self.event,
        };
        serde_json::to_string(&body).map_err(|e| DbErr::Custom(format!("outbox body: {e}")))
    }
}

/// An outgoing webhook's body (docs/architecture.md). Keys in alphabetical order, as bodies were
/// written before these types, so a body's bytes did not change with them.
#[derive(Serialize)]
struct Body<'a> {
    data: Data<'a>,
    timestamp: String,
    #[serde(rename = "type")]
    kind: EventType,
}

#[derive(Serialize)]
struct Data<'a> {
    branch: &'a str,
    changes_cursor: Option<String>,
    commit_sha: Option<&'a str>,
    counts: Counts,
    /// Why a failed run failed (absent for a success).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    previous_sha: Option<&'a str>,
    project_id: i64,
    repository: &'a str,
    run_id: i64,
}

/// Writes one delivery per enabled subscription that wants this event. Call it inside the
/// transaction that records the run's outcome. Returns how many were written.
pub async fn enqueue(txn: &impl ConnectionTrait, outcome: &Outcome<'_>) -> Result<usize, DbErr> {
    let subs: Vec<webhook_subscriptions::Model> = Subscription::find()
        .filter(Column::DeletedAt.is_null())
        .filter(Column::Enabled.eq(true))
        .filter(
            Column::ProjectId
                .is_null()
                .or(Column::ProjectId.eq(outcome.project_id)),
        )
        .all(txn)
        .await?
        .into_iter()
        .filter(|s| events_of(s).contains(&outcome.event))
        .collect();
    if subs.is_empty() {
        return Ok(0);
    }
    let body = outcome.body()?;
    let now = Utc::now();
    let rows = subs.iter().map(|s| outbox_deliveries::ActiveModel {
        subscription_id: Set(s.id),
        event_type: Set(outcome.event),
        project_id: Set(outcome.project_id),
        run_id: Set(outcome.run_id),
        payload: Set(body.clone()),
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    });
    outbox_deliveries::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(subs.len())
}
