use sea_orm::entity::prelude::*;

use crate::secret::SigningSecret;

/// Where outgoing webhooks go: a URL, the events it wants, an optional project filter, and the
/// signing secret (kept readable: every attempt is signed with it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub url: String,
    /// Only this project's events; None: every project's.
    pub project_id: Option<i64>,
    /// A JSON array of event types (`store::outbox::EventType`).
    pub events: String,
    pub secret: SigningSecret,
    pub enabled: bool,
    /// Failed attempts since the last success; at the configured limit the subscription is
    /// disabled.
    pub consecutive_failures: i32,
    pub disabled_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
