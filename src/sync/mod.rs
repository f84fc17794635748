//! The sync layer: the queue of runs, the worker, one run's algorithm (see docs/architecture.md).
pub mod backfill;
pub mod backoff;
pub mod compare;
pub mod discover;
mod error;
mod fetch;
pub mod intake;
mod outcome;
pub mod patterns;
pub mod planner;
pub mod reconcile;
pub mod requests;
pub mod runner;
pub mod tarball;
mod target;
pub mod worker;

use std::{sync::Arc, time::Duration};

pub use intake::AutoSelect;
use tokio::sync::Notify;

use crate::progress::Hub;

/// Wakes whoever acts on freshly committed sync state: an idle worker (runs may be queued) and
/// the progress hub (events were written), instead of waiting for their next poll.
#[derive(Clone)]
pub struct Nudge {
    workers: Arc<Notify>,
    discover: Arc<Notify>,
    hub: Hub,
}

impl Nudge {
    pub fn new(workers: &worker::Workers, hub: Hub) -> Self {
        Self {
            workers: workers.wake.clone(),
            discover: workers.discover.clone(),
            hub,
        }
    }

    pub(crate) fn nudge(&self) {
        self.workers.notify_one();
        self.discover.notify_one();
        self.hub.poke();
    }
}

/// How syncing behaves; read from the environment by `config`.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Concurrent runs in this process (`HUBSYNC_SYNC_WORKERS`).
    pub workers: usize,
    /// How long a claimed run stays claimed without a heartbeat (`HUBSYNC_SYNC_LEASE_SECS`).
    pub lease: Duration,
    /// A queued run waits this long before it may start, so a burst of pushes becomes one run
    /// (`HUBSYNC_SYNC_DEBOUNCE_MS`).
    pub debounce: Duration,
    /// Attempts before a run ends failed.
    pub max_attempts: i32,
    /// First retry delay; doubles per attempt (`HUBSYNC_SYNC_RETRY_SECS`).
    pub retry_base: Duration,
    /// Larger files are listed but their content is not stored (`HUBSYNC_MAX_FILE_SIZE`).
    pub max_file_size: u64,
    /// A run needing at least this many blobs reads the tarball first (`HUBSYNC_TARBALL_THRESHOLD`).
    pub tarball_threshold: usize,
    /// A push onto the synced head is planned from GitHub's compare, not the whole tree
    /// (`HUBSYNC_SYNC_COMPARE=on|off`).
    pub compare: bool,
    /// Blob requests in flight per run (GitHub's per-installation cap applies on top).
    pub blob_concurrency: usize,
    /// At most one `progress` event per this interval per run.
    pub progress_interval: Duration,
    /// How often every selected branch is compared with GitHub (`HUBSYNC_RECONCILE_SECS`; 0 = off).
    pub reconcile_interval: Duration,
    /// How often an idle worker looks for work when nothing woke it.
    pub poll_interval: Duration,
    /// What a newly visible repository starts with (`HUBSYNC_AUTO_SELECT=default|none`).
    pub auto_select: AutoSelect,
    /// A GitHub lookup that failed in the background (a repository's default branch, a
    /// pattern's branch list) is tried again after this, doubling per failure up to an hour.
    pub lookup_retry: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            lease: Duration::from_secs(60),
            debounce: Duration::from_millis(250),
            max_attempts: 5,
            retry_base: Duration::from_secs(2),
            max_file_size: 10 * 1024 * 1024,
            tarball_threshold: 100,
            compare: true,
            blob_concurrency: 8,
            progress_interval: Duration::from_millis(250),
            reconcile_interval: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(1),
            auto_select: AutoSelect::DefaultBranch,
            lookup_retry: Duration::from_secs(60),
        }
    }
}
