//! One run's events, for its timeline on the run page.
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::ProgressEvent;
use crate::store::entities::sync_events::{readable, Column, Entity as SyncEvent, EventKind};

/// Events read per run at most: every queued/started/failed/succeeded (a run has a handful, one
/// per attempt and per coalesced push) and the latest progress events (one per 250 ms or so).
const MILESTONES: u64 = 200;
const PROGRESS: u64 = 100;

/// A run's events in the order they happened (unreadable rows left out), as (when, event).
/// Progress events are the latest `PROGRESS` only.
pub async fn of_run(
    db: &impl ConnectionTrait,
    run_id: i64,
) -> Result<Vec<(DateTime<Utc>, ProgressEvent)>, DbErr> {
    let milestones = SyncEvent::find()
        .filter(Column::RunId.eq(run_id))
        .filter(readable())
        .filter(Column::Kind.ne(EventKind::Progress))
        .order_by_asc(Column::Id)
        .limit(MILESTONES)
        .all(db)
        .await?;
    let progress = SyncEvent::find()
        .filter(Column::RunId.eq(run_id))
        .filter(Column::Kind.eq(EventKind::Progress))
        .order_by_desc(Column::Id)
        .limit(PROGRESS)
        .all(db)
        .await?;
    let mut rows: Vec<_> = milestones.into_iter().chain(progress).collect();
    rows.sort_by_key(|r| r.id);
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.created_at, ProgressEvent::from_row(r).ok()?)))
        .collect())
}
