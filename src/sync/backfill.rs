//! Files skipped as too large are stored as blobs without content. When `HUBSYNC_MAX_FILE_SIZE`
//! is raised, the branches listing such files are synced at start-up, and every run fetches the
//! ones its tree lists (see `runner`). Lowering the limit deletes nothing.
use sea_orm::DbErr;

use super::{intake, worker::Workers};
use crate::store::{manifests, projects, runs::Trigger};

/// Queues a run for every selected branch whose manifest lists a blob stored without content
/// that the limit now allows. Returns how many it queued.
pub(crate) async fn queue_allowed(workers: &Workers) -> Result<usize, DbErr> {
    let db = &workers.db;
    let stubs = manifests::fetchable_stubs(db, workers.settings.max_file_size).await?;
    if stubs.is_empty() {
        return Ok(0);
    }
    let listing = manifests::selections_listing(db, &stubs).await?;
    let mut queued = 0;
    for p in projects::load_all(db).await? {
        if p.stopped_because().is_some() {
            continue;
        }
        for sel in p.selections.iter().filter(|s| {
            s.enabled && !s.is_pattern && s.deleted_at.is_none() && listing.contains(&s.id)
        }) {
            let txn = crate::store::begin_write(db).await?;
            intake::enqueue(&txn, p.project.id, sel, Trigger::Reconcile, None).await?;
            txn.commit().await?;
            queued += 1;
        }
    }
    if queued > 0 {
        workers.wake.notify_waiters();
    }
    Ok(queued)
}
