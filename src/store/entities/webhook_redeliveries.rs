use sea_orm::entity::prelude::*;

use super::stored_strings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text", rename_all = "snake_case")]
pub enum RedeliveryStatus {
    /// GitHub accepted the request.
    Requested,
    /// GitHub answered an error.
    Refused,
}

stored_strings!(RedeliveryStatus {
    Requested => "requested",
    Refused => "refused",
});

/// A delivery GUID hubsync asked GitHub to redeliver (GitHub redelivers with the same GUID).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_redeliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub guid: String,
    /// GitHub's id of the failed delivery the last request named.
    pub github_delivery_id: i64,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    /// The status GitHub recorded for the failed delivery.
    pub status_code: i32,
    /// Redelivery requests made for this GUID (bounded).
    pub requests: i32,
    pub status: RedeliveryStatus,
    pub error: Option<String>,
    pub first_requested_at: DateTimeUtc,
    pub last_requested_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
