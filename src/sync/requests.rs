//! What an operator asks of the sync layer (from the API or the pages): replace a project's
//! branch selection, or queue a manual sync. Each commits in one transaction, scoped to the
//! project's installation (the caller's access to it was checked), and wakes the workers.
use sea_orm::{DatabaseConnection, DbErr};

use super::{intake, Nudge};
use crate::{
    git::{BranchName, Selector},
    progress::{self, ProgressEvent, SelectionChange},
    store::{entities::sync_runs, projects::ProjectRecord, runs::Trigger, scope, selections},
};

const MAX_SELECTORS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// The request itself is wrong (a bad branch name, too many entries).
    #[error("{0}")]
    Invalid(String),
    #[error("branch {0} is not selected in this project")]
    NotSelected(BranchName),
    #[error("syncing is stopped for this project: {0}")]
    Stopped(&'static str),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Replaces a project's selection with these names and patterns.
pub(crate) async fn apply_selection(
    db: &DatabaseConnection,
    nudge: &Nudge,
    p: &ProjectRecord,
    raw: &[String],
) -> Result<(), RequestError> {
    if raw.len() > MAX_SELECTORS {
        return Err(RequestError::Invalid(format!(
            "at most {MAX_SELECTORS} branches and patterns"
        )));
    }
    let mut wanted: Vec<Selector> = Vec::new();
    for entry in raw {
        let s =
            Selector::parse(entry).map_err(|e| RequestError::Invalid(format!("branches: {e}")))?;
        if !wanted.contains(&s) {
            wanted.push(s);
        }
    }
    let txn = scope::begin_write(db, &scope::Scope::installation(p.installation.id)).await?;
    let enabled = selections::set_selection(&txn, p.project.id, &wanted).await?;
    if p.stopped_because().is_none() {
        for sel in &enabled {
            intake::enqueue(&txn, p.project.id, sel, Trigger::Selection, None).await?;
        }
    }
    let branches = wanted.iter().map(|s| s.as_str().to_owned()).collect();
    let event = ProgressEvent::SelectionChanged(SelectionChange::Replaced { branches });
    progress::record(&txn, p.project.id, &event).await?;
    txn.commit().await?;
    nudge.nudge();
    Ok(())
}

/// Queues a manual sync of one selected branch, or of all of them; returns each queued run with
/// its branch name.
pub(crate) async fn queue_sync(
    db: &DatabaseConnection,
    nudge: &Nudge,
    p: &ProjectRecord,
    branch: Option<&str>,
) -> Result<Vec<(sync_runs::Model, String)>, RequestError> {
    if let Some(reason) = p.stopped_because() {
        return Err(RequestError::Stopped(reason));
    }
    let targets: Vec<_> = match branch {
        Some(raw) => {
            let branch = BranchName::parse(raw)
                .map_err(|e| RequestError::Invalid(format!("branch: {e}")))?;
            let sel = p
                .selections
                .iter()
                .find(|s| !s.is_pattern && s.enabled && s.branch == branch.as_str())
                .ok_or(RequestError::NotSelected(branch))?;
            vec![sel]
        }
        None => p
            .selections
            .iter()
            .filter(|s| !s.is_pattern && s.enabled && s.deleted_at.is_none())
            .collect(),
    };
    let txn = scope::begin_write(db, &scope::Scope::installation(p.installation.id)).await?;
    if branch.is_none() {
        // Every branch: patterns look for new matches too (in the background).
        selections::relist_patterns(&txn, p.project.id).await?;
    }
    let mut queued = Vec::new();
    for sel in targets {
        let q = intake::enqueue(&txn, p.project.id, sel, Trigger::Manual, None).await?;
        queued.push((q.run, sel.branch.clone()));
    }
    txn.commit().await?;
    nudge.nudge();
    Ok(queued)
}
