//! Installation events list repositories without their default branch: ask GitHub for each one
//! still unknown, store it, and let the auto-selection pick it. Runs after every processed
//! delivery, so a lookup that fails waits out its backoff instead of being repeated per delivery.
use std::{collections::HashMap, sync::Arc};

use sea_orm::DbErr;
use tokio::time::Instant;

use super::{
    backoff::{Backoff, Lookup},
    intake::{self, SyncSignal},
    worker::Workers,
};
use crate::{
    github::GithubApp,
    store::{entities::installations, installations as stored_installations, repositories},
};

/// Returns how many repositories it completed.
pub(crate) async fn discover(
    workers: &Workers,
    app: &Arc<GithubApp>,
    lookups: &mut Backoff,
) -> Result<usize, DbErr> {
    let db = &workers.db;
    let now = Instant::now();
    let due: Vec<_> = repositories::awaiting_default_branch(db)
        .await?
        .into_iter()
        .filter(|r| !lookups.is_waiting(&Lookup::Repository(r.id), now))
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let active: HashMap<i64, installations::Model> =
        stored_installations::active(db, due.iter().map(|r| r.installation_id))
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
    let mut done = 0;
    for repo in due
        .iter()
        .filter(|r| active.contains_key(&r.installation_id))
    {
        let key = Lookup::Repository(repo.id);
        let found = match app
            .installation(repo.installation_id)
            .repository_by_id(repo.id)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let wait = lookups.failed(key, Instant::now());
                tracing::warn!(error = %e, repository = repo.id, retry_in_s = wait.as_secs(),
                               "cannot read the repository's default branch");
                continue;
            }
        };
        lookups.succeeded(&key);
        let txn = crate::store::begin_write(db).await?;
        repositories::set_details(
            &txn,
            repo.id,
            found.default_branch.as_str(),
            &found.full_name.to_string(),
        )
        .await?;
        let added = SyncSignal::RepositoriesAdded {
            installation_id: repo.installation_id,
            repository_ids: vec![repo.id],
        };
        intake::signal(&txn, workers.settings.auto_select, added).await?;
        txn.commit().await?;
        done += 1;
    }
    if done > 0 {
        workers.wake.notify_waiters();
    }
    Ok(done)
}
