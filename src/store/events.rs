//! Reads of the progress log (`sync_events`) that return rows; `progress` turns them into events
//! (the store does not know `ProgressEvent`), and `store::scoped` runs them in a caller's scope.
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::sync_events::{readable, Column, Entity as SyncEvent, EventKind, Model};
use crate::ids::ProjectId;

/// Events read per run at most: every queued/started/failed/succeeded (a run has a handful, one
/// per attempt and per coalesced push) and the latest progress events (one per 250 ms or so).
const MILESTONES: u64 = 200;
const PROGRESS: u64 = 100;

/// Rows in `after < id <= upto` for one project (or all), oldest first, at most `limit`: what a
/// reconnecting client missed.
pub async fn replay(
    db: &impl ConnectionTrait,
    project_id: Option<ProjectId>,
    after: i64,
    upto: i64,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut q = SyncEvent::find()
        .filter(Column::Id.gt(after))
        .filter(Column::Id.lte(upto))
        .filter(readable());
    if let Some(p) = project_id {
        q = q.filter(Column::ProjectId.eq(p.0));
    }
    q.order_by_asc(Column::Id).limit(limit).all(db).await
}

/// A run's rows in id order (unreadable ones left out): its milestones, and its latest
/// `PROGRESS` progress rows only.
pub async fn of_run(db: &impl ConnectionTrait, run_id: i64) -> Result<Vec<Model>, DbErr> {
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
    Ok(rows)
}
