//! The in-process fan-out of `sync_events` rows.
//!
//! One tailer per process reads new rows (woken by local writes, else every poll interval, which
//! also picks up rows other replicas wrote) and broadcasts them. PostgreSQL may commit ids out of
//! order, so the tailer re-reads a short recent window and skips ids it already sent.
use std::{collections::BTreeSet, sync::Arc, time::Duration};

use chrono::Utc;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::store::entities::sync_events;

/// A progress event as subscribers see it.
pub type Event = Arc<sync_events::Model>;

/// How far back the tailer looks for rows that committed late.
const LATE_WINDOW_SECS: i64 = 30;
const BATCH: u64 = 1000;

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Event>,
    wake: Arc<Notify>,
}

impl Hub {
    /// `capacity` bounds what a slow subscriber may fall behind before it is dropped.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self {
            tx,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Call after committing events so subscribers get them without waiting for the poll.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Tails `sync_events` until shutdown.
    pub async fn run(self, db: DatabaseConnection, poll: Duration, shutdown: CancellationToken) {
        let mut sent: BTreeSet<i64> = BTreeSet::new();
        let mut high = match latest_id(&db).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "progress hub cannot read sync_events; live events are off");
                return;
            }
        };
        loop {
            match self.tail(&db, &mut high, &mut sent).await {
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "reading new progress events failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    async fn tail(
        &self,
        db: &DatabaseConnection,
        high: &mut i64,
        sent: &mut BTreeSet<i64>,
    ) -> Result<(), DbErr> {
        let since = Utc::now() - chrono::Duration::seconds(LATE_WINDOW_SECS);
        loop {
            let rows = sync_events::Entity::find()
                .filter(
                    Condition::any()
                        .add(sync_events::Column::Id.gt(*high))
                        .add(sync_events::Column::CreatedAt.gte(since)),
                )
                .order_by_asc(sync_events::Column::Id)
                .limit(BATCH)
                .all(db)
                .await?;
            let fresh = rows.len();
            for row in rows {
                if row.id <= *high && !is_late(row.id, sent) {
                    continue;
                }
                *high = (*high).max(row.id);
                sent.insert(row.id);
                // No subscribers is fine: the row stays in the table for replay.
                let _ = self.tx.send(Arc::new(row));
            }
            // Remember only the ids that can still arrive late.
            let keep_from = high.saturating_sub(100_000);
            *sent = sent.split_off(&keep_from);
            if fresh < BATCH as usize {
                return Ok(());
            }
        }
    }
}

/// An id at or below the high-water mark that was never sent: it committed late.
fn is_late(id: i64, sent: &BTreeSet<i64>) -> bool {
    !sent.contains(&id) && sent.first().is_some_and(|first| id > *first)
}

pub async fn latest_id(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let id: Option<i64> = sync_events::Entity::find()
        .select_only()
        .column(sync_events::Column::Id)
        .order_by_desc(sync_events::Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(id.unwrap_or(0))
}

/// Rows after `after` for one project (or all), oldest first: what a reconnecting client missed.
pub async fn replay(
    db: &DatabaseConnection,
    project_id: Option<i64>,
    after: i64,
    limit: u64,
) -> Result<Vec<sync_events::Model>, DbErr> {
    let mut q = sync_events::Entity::find().filter(sync_events::Column::Id.gt(after));
    if let Some(p) = project_id {
        q = q.filter(sync_events::Column::ProjectId.eq(p));
    }
    q.order_by_asc(sync_events::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
