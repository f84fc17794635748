//! What `/metrics` reads from the database at scrape time: queue depths and sync lag. Each query
//! is bounded: the queue counts walk partial or status indexes, pending runs are at most two per
//! branch, and failed runs are read only since each branch's last success.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement};

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

#[derive(FromQueryResult)]
struct Oldest {
    project_id: i64,
    since: Option<DateTime<Utc>>,
}

/// The branches that should be synced: selected, not deleted, of a repository that still syncs.
const SYNCING: &str = "FROM project_syncs ps \
     JOIN projects p ON p.id = ps.project_id \
     JOIN repositories repo ON repo.id = p.repository_id \
     JOIN installations i ON i.id = repo.installation_id \
     JOIN sync_runs r ON r.project_sync_id = ps.id \
     WHERE ps.enabled AND ps.deleted_at IS NULL AND repo.removed_at IS NULL \
     AND i.suspended_at IS NULL AND i.deleted_at IS NULL";

async fn count(db: &impl ConnectionTrait, sql: &str) -> Result<i64, DbErr> {
    let stmt = Statement::from_string(db.get_database_backend(), sql.to_owned());
    Ok(Count::find_by_statement(stmt)
        .one(db)
        .await?
        .map_or(0, |c| c.n))
}

/// Stored deliveries waiting to be processed.
pub(crate) async fn delivery_queue(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    count(
        db,
        "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'received'",
    )
    .await
}

/// Sync runs queued (debouncing, due, or waiting for a retry).
pub async fn sync_queue(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    count(
        db,
        "SELECT COUNT(*) AS n FROM sync_runs WHERE status = 'queued'",
    )
    .await
}

/// Per project, when its oldest push not yet synced was queued: the oldest queued or running
/// run, or a run that failed (or was superseded) after the branch's last successful sync. A run
/// syncs the branch head, so every push before a success is synced by it.
pub(crate) async fn oldest_unsynced(
    db: &impl ConnectionTrait,
) -> Result<HashMap<i64, DateTime<Utc>>, DbErr> {
    let pending = format!(
        "SELECT ps.project_id AS project_id, MIN(r.queued_at) AS since {SYNCING} \
         AND r.status IN ('queued', 'running') GROUP BY ps.project_id"
    );
    let failed = format!(
        "SELECT ps.project_id AS project_id, MIN(r.queued_at) AS since {SYNCING} \
         AND r.status IN ('failed', 'superseded') AND r.finished_at IS NOT NULL \
         AND (ps.last_synced_at IS NULL OR r.finished_at > ps.last_synced_at) \
         GROUP BY ps.project_id"
    );
    let mut oldest: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for sql in [pending, failed] {
        let stmt = Statement::from_string(db.get_database_backend(), sql);
        for row in Oldest::find_by_statement(stmt).all(db).await? {
            let Some(since) = row.since else { continue };
            oldest
                .entry(row.project_id)
                .and_modify(|s| *s = (*s).min(since))
                .or_insert(since);
        }
    }
    Ok(oldest)
}
