use sea_orm::entity::prelude::*;

/// One row per kind of self-healing pass: its lease (so one replica runs it at a time), a
/// rate-limit pause, what the last run did, and (for redelivery) where the listing stopped.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "background_passes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub leased_by: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    /// GitHub asked to wait (rate limit): no replica starts the pass before this.
    pub not_before: Option<DateTimeUtc>,
    pub last_started_at: Option<DateTimeUtc>,
    pub last_finished_at: Option<DateTimeUtc>,
    /// What the last finished run did, in a few words (no payloads).
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    /// Actions taken over all runs (redeliveries requested, installation changes applied).
    pub actions_total: i64,
    /// Redelivery: the newest GitHub delivery id every older one of which has been looked at.
    pub newest_seen: Option<i64>,
    /// Redelivery: the page a bounded or interrupted listing goes on from.
    pub resume_url: Option<String>,
    /// Redelivery: the newest delivery id of the interrupted listing.
    pub resume_newest: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
