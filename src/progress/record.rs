//! Writing progress events.
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use serde_json::Value;

use crate::store::entities::sync_events;

pub const QUEUED: &str = "queued";
pub const STARTED: &str = "started";
pub const PROGRESS: &str = "progress";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const SELECTION_CHANGED: &str = "selection_changed";

pub async fn record(
    db: &impl ConnectionTrait,
    project_id: i64,
    run_id: Option<i64>,
    kind: &str,
    data: Value,
) -> Result<sync_events::Model, DbErr> {
    sync_events::ActiveModel {
        project_id: Set(project_id),
        run_id: Set(run_id),
        kind: Set(kind.to_owned()),
        data: Set(data),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
}
