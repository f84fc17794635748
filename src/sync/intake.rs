//! The one interface through which the webhook layer hands work to the sync layer.
//!
//! Webhook processing calls `signal` inside the transaction that marks the delivery processed,
//! so a delivery's effect on the queue and its status commit together. The sync issue fills in
//! what each signal does (create projects and selections, enqueue runs, mark branches deleted).
use sea_orm::{ConnectionTrait, DbErr};

use crate::git::{BranchName, Sha};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncSignal {
    /// Repositories became visible to an installation (installation created, repositories added).
    RepositoriesAdded {
        installation_id: i64,
        repository_ids: Vec<i64>,
    },
    /// Repositories are no longer visible (removed from the installation, deleted): stop syncing,
    /// keep their data.
    RepositoriesRemoved {
        installation_id: i64,
        repository_ids: Vec<i64>,
    },
    /// The installation was deleted or suspended: stop its syncs, keep their data.
    InstallationStopped { installation_id: i64 },
    /// The installation was unsuspended: resume its syncs.
    InstallationResumed { installation_id: i64 },
    /// A repository's default branch changed.
    DefaultBranchChanged {
        repository_id: i64,
        branch: BranchName,
    },
    /// A push to a branch (also a force push); `head` is the pushed `after` sha.
    BranchPushed {
        repository_id: i64,
        branch: BranchName,
        head: Sha,
        forced: bool,
    },
    BranchCreated {
        repository_id: i64,
        branch: BranchName,
        head: Option<Sha>,
    },
    BranchDeleted {
        repository_id: i64,
        branch: BranchName,
    },
}

/// Applies a signal to the sync state. Until the sync layer lands this records nothing beyond a
/// trace line; the delivery itself is stored and processed either way.
pub async fn signal(_db: &impl ConnectionTrait, signal: SyncSignal) -> Result<(), DbErr> {
    tracing::debug!(?signal, "sync signal");
    Ok(())
}
