use sea_orm::entity::prelude::*;

use super::stored_strings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Stored, waiting to be processed (or retried).
    Received,
    Processed,
    /// An event or action hubsync does not act on.
    Ignored,
    /// Gave up after the bounded number of attempts; `error` says why.
    Failed,
}

stored_strings!(DeliveryStatus {
    Received => "received",
    Processed => "processed",
    Ignored => "ignored",
    Failed => "failed",
});

/// A verified webhook delivery, stored before it is acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// X-GitHub-Delivery; unique, so a redelivery is recognised.
    #[sea_orm(unique)]
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub hook_id: Option<i64>,
    pub headers: Json,
    /// The exact body GitHub signed.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub error: Option<String>,
    pub not_before: Option<DateTimeUtc>,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
