use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::stored_strings;

/// What happened, as the webhook's `type` says it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum EventType {
    #[sea_orm(string_value = "sync.succeeded")]
    #[serde(rename = "sync.succeeded")]
    SyncSucceeded,
    #[sea_orm(string_value = "sync.failed")]
    #[serde(rename = "sync.failed")]
    SyncFailed,
}

stored_strings!(EventType {
    SyncSucceeded => "sync.succeeded",
    SyncFailed => "sync.failed",
});

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Succeeded,
    /// Every attempt within the retry window failed.
    Failed,
    /// Its subscription was deleted first.
    Cancelled,
}

stored_strings!(DeliveryStatus {
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
});

/// The outbox: one event for one subscription, written with the run's outcome. The id makes the
/// `webhook-id` header (`msg_<id>`), the same on every attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subscription_id: i64,
    pub event_type: EventType,
    pub project_id: i64,
    pub run_id: i64,
    /// The JSON body, fixed when the event happened.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub leased_by: Option<String>,
    pub last_status_code: Option<i32>,
    pub last_duration_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
