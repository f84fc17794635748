//! One sync run, the algorithm in docs/architecture.md: resolve the branch head now, diff GitHub's
//! tree with the stored manifest by blob sha, fetch only the blobs not stored yet, swap the
//! manifest in one transaction.
use std::{
    collections::{HashMap, HashSet},
    time::Instant,
};

use futures_util::{stream, StreamExt, TryStreamExt};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::mpsc;
use tokio_util::io::StreamReader;

use super::{
    planner::{self, TreeItem},
    tarball, SyncSettings,
};
use crate::{
    git::{BranchName, Sha},
    github::{EntryKind, GithubError, InstallationClient, RepoName},
    progress::{self, Hub, ProgressEvent},
    store::{
        changes,
        entities::{files, project_syncs, sync_runs},
        manifests, outbox,
        runs::{self, RunCounts},
        selections,
    },
};

#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("blob {sha} from GitHub does not match its sha: refusing corrupt content")]
    Corrupt { sha: String },
    #[error("the run's lease was lost to another worker")]
    LeaseLost,
}

impl RunError {
    /// Worth another attempt later: GitHub outages and rate limits, database hiccups.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Github(e) => e.is_transient(),
            Self::Db(_) | Self::Corrupt { .. } => true,
            Self::LeaseLost => false,
        }
    }
}

/// What the run needs to know about its branch.
pub struct Target {
    pub project_id: i64,
    pub selection: project_syncs::Model,
    pub repo: RepoName,
    pub branch: BranchName,
}

/// How a run ended, for the worker to record.
pub(crate) enum Finished {
    Synced,
    /// The branch no longer exists on GitHub: its selection and manifest are kept, marked deleted.
    BranchGone,
}

pub(crate) struct Run<'a> {
    pub db: &'a DatabaseConnection,
    pub client: &'a InstallationClient,
    pub settings: &'a SyncSettings,
    pub run: &'a sync_runs::Model,
    pub worker: &'a str,
    pub target: &'a Target,
    /// Poked after each event, so watchers see it without waiting for the hub's poll.
    pub hub: &'a Hub,
}

/// Blobs stored per transaction, and the bytes a batch may hold before it is written.
const BATCH_BLOBS: usize = 200;
const BATCH_BYTES: usize = 8 << 20;

/// Fetched blobs waiting to be written together: one transaction per batch instead of per blob.
#[derive(Default)]
struct Batch {
    blobs: Vec<manifests::NewBlob>,
    bytes: usize,
}

impl Batch {
    /// Adds a blob; true when the batch should be written now.
    fn push(&mut self, sha: String, content: Vec<u8>) -> bool {
        self.bytes += content.len();
        let size = content.len() as i64;
        self.blobs.push(manifests::NewBlob {
            sha,
            size,
            content: Some(content),
        });
        self.blobs.len() >= BATCH_BLOBS || self.bytes >= BATCH_BYTES
    }
}

impl Run<'_> {
    /// Fills `counts` as it goes, so that a failed attempt still tells what it reached.
    pub async fn execute(&self, counts: &mut RunCounts) -> Result<Finished, RunError> {
        let t = self.target;
        let head = match self.client.branch_head(&t.repo, &t.branch).await {
            Ok(h) => h,
            Err(GithubError::NotFound { .. }) => return Ok(Finished::BranchGone),
            Err(e) => return Err(e.into()),
        };
        counts.target_sha = Some(head.commit.clone());
        // Blobs skipped under a lower size limit that this one allows: fetched now.
        let allowed = manifests::fetchable_stubs(self.db, self.settings.max_file_size).await?;
        let at_head = t.selection.last_synced_sha.as_deref() == Some(head.commit.as_str());
        if at_head
            && (allowed.is_empty()
                || !manifests::lists_any(self.db, t.selection.id, &allowed).await?)
        {
            // Already at the head (a coalesced or replayed push): one request, nothing to do.
            let files = manifests::count(self.db, t.selection.id).await? as i64;
            counts.files_total = Some(files);
            counts.files_changed = Some(0);
            counts.api_requests = self.client.requests_made() as i64;
            return self.commit(&[], None, &head.commit, counts).await;
        }
        let tree: Vec<TreeItem> = self
            .client
            .tree(&t.repo, &head.tree)
            .await?
            .into_iter()
            .filter(|e| e.kind != EntryKind::Tree)
            .map(|e| TreeItem {
                path: e.path,
                mode: e.mode,
                sha: e.sha.to_string(),
                size: e.size.map(|s| s as i64),
            })
            .collect();
        let old = manifests::manifest(self.db, t.selection.id).await?;
        let plan = planner::plan(&tree, &old);
        counts.files_total = Some(tree.len() as i64);
        counts.files_changed = Some((plan.changed + plan.removed) as i64);

        // Only blobs no branch of any project has stored yet are fetched, and those stored
        // without content that the size limit now allows.
        let mut missing = manifests::missing_blobs(self.db, &plan.candidates).await?;
        missing.extend(
            tree.iter()
                .filter(|i| !i.is_submodule() && allowed.contains(&i.sha))
                .map(|i| i.sha.clone()),
        );
        let sizes: HashMap<&str, i64> = tree
            .iter()
            .map(|i| (i.sha.as_str(), i.size.unwrap_or(0)))
            .collect();
        let size_of = |sha: &str| sizes.get(sha).copied().unwrap_or(0);
        let mut wanted: HashSet<String> = HashSet::new();
        for sha in &missing {
            let size = size_of(sha);
            if size as u64 > self.settings.max_file_size {
                manifests::store_blob(self.db, sha, size, None).await?;
            } else {
                wanted.insert(sha.clone());
            }
        }
        let total = wanted.len();
        self.progress(0, total).await?;
        let mut done = 0usize;
        // The tarball carries the whole tree: worth it when many blobs, and a good share of the
        // tree, are missing (a first sync), not for a large push into a huge repository.
        if total >= self.settings.tarball_threshold && total * 10 >= tree.len() {
            let shas: Vec<String> = wanted.iter().cloned().collect();
            self.read_tarball(&t.repo, &head.commit, wanted, total, counts)
                .await?;
            wanted = manifests::missing_blobs(self.db, &shas).await?;
            let allowed = manifests::fetchable_stubs(self.db, self.settings.max_file_size).await?;
            wanted.extend(shas.into_iter().filter(|s| allowed.contains(s)));
            done = total - wanted.len();
            self.progress(done, total).await?;
        }
        self.fetch_blobs(&t.repo, wanted, done, total, counts)
            .await?;
        counts.api_requests = self.client.requests_made() as i64;
        self.commit(&plan.entries, Some(&old), &head.commit, counts)
            .await
    }

    /// The swap: manifest, branch state and the run's end commit together, or not at all.
    async fn commit(
        &self,
        entries: &[manifests::Entry],
        old: Option<&[files::Model]>,
        head: &Sha,
        counts: &RunCounts,
    ) -> Result<Finished, RunError> {
        let t = self.target;
        let txn = crate::store::begin_write(self.db).await?;
        if let Some(old) = old {
            manifests::replace_manifest(&txn, t.selection.id, old, entries).await?;
        }
        let done = runs::finish(
            &txn,
            self.run.id,
            self.worker,
            runs::RunStatus::Succeeded,
            counts,
            None,
        )
        .await?
        .ok_or(RunError::LeaseLost)?;
        selections::mark_synced(&txn, t.selection.id, head.as_str()).await?;
        // The run's figures, every attempt's fetches and requests included, as the history shows.
        let succeeded = ProgressEvent::Succeeded {
            run_id: self.run.id,
            branch: t.branch.to_string(),
            sha: head.clone(),
            from_sha: done.from_sha.clone(),
            files_total: done.files_total,
            files_changed: done.files_changed,
            files_fetched: done.files_fetched,
            bytes_fetched: done.bytes_fetched,
            api_requests: done.api_requests,
        };
        progress::record(&txn, t.project_id, &succeeded).await?;
        let repository = t.repo.to_string();
        let mut kinds = changes::Counts::default();
        if let Some(old) = old {
            // Last but the outbox: it takes the feed's append lock, held until this commit.
            let run = changes::RunInfo {
                project_id: t.project_id,
                project_sync_id: t.selection.id,
                run_id: self.run.id,
                repository: &repository,
                branch: t.branch.as_str(),
                commit_sha: head.as_str(),
            };
            kinds = changes::append(&txn, &run, old, entries).await?;
        }
        // Subscribers' webhooks, in the same commit: none is lost, none is sent for a run that
        // did not commit.
        let outcome = outbox::Outcome {
            event: outbox::EventType::SyncSucceeded,
            project_id: t.project_id,
            repository: &repository,
            branch: t.branch.as_str(),
            run_id: self.run.id,
            commit_sha: Some(head.as_str()),
            previous_sha: done.from_sha.as_deref(),
            counts: kinds,
            changes_cursor: Some(changes::last_cursor(&txn).await?),
            error: None,
        };
        outbox::enqueue(&txn, &outcome).await?;
        txn.commit().await?;
        self.hub.poke();
        Ok(Finished::Synced)
    }

    /// Stores every wanted blob found in the commit's tarball. A broken or incomplete archive is
    /// not fatal: the caller fetches whatever is still missing blob by blob.
    async fn read_tarball(
        &self,
        repo: &RepoName,
        commit: &Sha,
        wanted: HashSet<String>,
        total: usize,
        counts: &mut RunCounts,
    ) -> Result<(), RunError> {
        let body = self.client.tarball(repo, commit).await?;
        let reader = StreamReader::new(body.map_err(std::io::Error::other));
        let (tx, mut rx) = mpsc::channel(8);
        let extract = tokio::spawn(tarball::extract_wanted(
            reader,
            wanted,
            self.settings.max_file_size,
            tx,
        ));
        let mut last = Instant::now();
        let mut found = 0usize;
        let mut batch = Batch::default();
        while let Some(blob) = rx.recv().await {
            counts.bytes_fetched += blob.content.len() as i64;
            counts.files_fetched += 1;
            found += 1;
            if batch.push(blob.sha, blob.content) {
                self.write(&mut batch).await?;
            }
            if last.elapsed() >= self.settings.progress_interval {
                last = Instant::now();
                self.progress(found, total).await?;
            }
        }
        self.write(&mut batch).await?;
        match extract.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "tarball unusable; fetching the rest as blobs")
            }
            Err(e) => {
                tracing::warn!(error = %e, "tarball reader failed; fetching the rest as blobs")
            }
        }
        Ok(())
    }

    async fn fetch_blobs(
        &self,
        repo: &RepoName,
        wanted: HashSet<String>,
        mut done: usize,
        total: usize,
        counts: &mut RunCounts,
    ) -> Result<(), RunError> {
        let shas: Vec<Sha> = wanted.iter().filter_map(|s| Sha::parse(s).ok()).collect();
        let mut fetched = stream::iter(shas)
            .map(|sha| async move { self.client.blob(repo, &sha).await.map(|b| (sha, b)) })
            .buffer_unordered(self.settings.blob_concurrency);
        let mut last = Instant::now();
        let mut batch = Batch::default();
        while let Some((sha, content)) = fetched.try_next().await? {
            if tarball::git_blob_sha(&content) != sha.as_str() {
                return Err(RunError::Corrupt {
                    sha: sha.to_string(),
                });
            }
            counts.bytes_fetched += content.len() as i64;
            counts.files_fetched += 1;
            done += 1;
            if batch.push(sha.to_string(), content.to_vec()) {
                self.write(&mut batch).await?;
            }
            if last.elapsed() >= self.settings.progress_interval {
                last = Instant::now();
                self.progress(done, total).await?;
            }
        }
        self.write(&mut batch).await
    }

    /// Writes a batch of blobs in one transaction and empties it.
    async fn write(&self, batch: &mut Batch) -> Result<(), RunError> {
        if batch.blobs.is_empty() {
            return Ok(());
        }
        let txn = crate::store::begin_write(self.db).await?;
        manifests::store_blobs(&txn, std::mem::take(&mut batch.blobs)).await?;
        txn.commit().await?;
        batch.bytes = 0;
        Ok(())
    }

    async fn progress(&self, done: usize, total: usize) -> Result<(), DbErr> {
        let event = ProgressEvent::Progress {
            run_id: self.run.id,
            branch: self.target.branch.to_string(),
            done: done as u64,
            total: total as u64,
        };
        progress::record(self.db, self.target.project_id, &event).await?;
        self.hub.poke();
        Ok(())
    }
}
