//! How a run learnt what changed, as its `succeeded` event says: GitHub's compare of the synced
//! head with the new one (cost in the change), or the whole tree (cost in the repository), and
//! why compare was not trusted.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMethod {
    /// The branch was already at the head: nothing read but the branch.
    Unchanged,
    /// `GET /compare/{synced}...{head}`, the changed paths' directories and the new blobs.
    Compare,
    /// The recursive tree of the head, diffed with the whole stored manifest.
    TreeWalk,
}

/// Why a run walked the tree instead of trusting compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The branch was never synced: there is nothing to compare with.
    FirstSync,
    /// The synced head is not one a successful run of this branch recorded.
    BaseNotSynced,
    /// The new head is behind or diverged from the synced one (a force push), or GitHub does not
    /// know the synced head any more.
    NotFastForward,
    /// GitHub lists at most 300 files: the list may be incomplete.
    TooManyFiles,
    /// A listed file without a blob sha or with a status hubsync does not trust, or an answer
    /// from compare that could not be used.
    Unlisted,
    /// The branch has, or the change touches, submodules.
    Submodule,
    /// GitHub's compare and the stored manifest disagree about the synced head.
    ManifestMismatch,
    /// The changed paths span so many directories that one tree listing is cheaper.
    ManyDirectories,
    /// A raised size limit lets blobs this branch lists be fetched now.
    SizeLimitRaised,
    /// `HUBSYNC_SYNC_COMPARE=off`.
    Disabled,
}
