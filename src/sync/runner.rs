//! One sync run, the algorithm in docs/architecture.md: resolve the branch head now, learn what
//! changed (from GitHub's compare of the synced head, or by diffing the whole tree with the stored
//! manifest by blob sha), fetch only the blobs not stored yet, swap the manifest in one
//! transaction.
use std::collections::{HashMap, HashSet};

use sea_orm::DatabaseConnection;

use super::{
    compare,
    planner::{self, TreeItem},
    SyncSettings,
};
pub(crate) use super::{error::RunError, target::Target};
use crate::ids::{ProjectId, RunId};
use crate::{
    git::Sha,
    github::{BranchHead, EntryKind, GithubError, InstallationClient},
    progress::{self, Fallback, Hub, ProgressEvent, SyncMethod},
    store::{
        changes,
        entities::{files, sync_runs},
        manifests, outbox,
        runs::{self, RunCounts},
        scope::{self, Scope},
        selections, snapshots,
    },
};

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

/// What a run will write, and how it learnt it.
struct Planned {
    method: SyncMethod,
    fallback: Option<Fallback>,
    /// The new version of each path the run may need content for.
    items: Vec<TreeItem>,
    /// Shas among `items` maybe not stored yet.
    candidates: Vec<String>,
    files_total: usize,
    files_changed: usize,
    swap: Swap,
}

/// How the manifest changes: swapped whole against the old one, or by the changed rows alone.
enum Swap {
    Nothing,
    Whole {
        old: Vec<files::Model>,
        entries: Vec<manifests::Entry>,
    },
    Changes(Vec<changes::FileChange>),
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
        let raised =
            !allowed.is_empty() && manifests::lists_any(self.db, t.selection.id, &allowed).await?;
        let base = t.selection.last_synced_sha.as_deref();
        if base == Some(head.commit.as_str()) && !raised {
            // Already at the head (a coalesced or replayed push): one request, nothing to do.
            // As the run that reached this head counted them (see compare::plan).
            let files =
                match snapshots::run_at(self.db, t.selection.id, head.commit.as_str()).await? {
                    Some(run) if run.files_total > 0 => run.files_total,
                    _ => manifests::count(self.db, t.selection.id).await? as i64,
                };
            counts.files_total = Some(files);
            counts.files_changed = Some(0);
            counts.api_requests = self.client.requests_made() as i64;
            let planned = Planned {
                method: SyncMethod::Unchanged,
                fallback: None,
                items: Vec::new(),
                candidates: Vec::new(),
                files_total: files as usize,
                files_changed: 0,
                swap: Swap::Nothing,
            };
            return self.commit(planned, &head.commit, counts).await;
        }
        let fallback = match base.map(Sha::parse) {
            None | Some(Err(_)) => Fallback::FirstSync,
            Some(Ok(_)) if raised => Fallback::SizeLimitRaised,
            Some(Ok(base)) if self.settings.compare => {
                match compare::plan(self.db, self.client, t, &base, &head).await? {
                    Ok(delta) => {
                        return self
                            .finish(Self::delta(delta), &head, allowed, counts)
                            .await
                    }
                    Err(why) => why,
                }
            }
            Some(Ok(_)) => Fallback::Disabled,
        };
        tracing::debug!(?fallback, "walking the tree");
        let planned = self.walk(&head, fallback).await?;
        self.finish(planned, &head, allowed, counts).await
    }

    fn delta(d: compare::Delta) -> Planned {
        let files_changed = d
            .changes
            .iter()
            .map(|c| {
                if c.kind == changes::ChangeKind::Renamed {
                    2
                } else {
                    1
                }
            })
            .sum();
        let mut seen = HashSet::new();
        let candidates = d
            .items
            .iter()
            .filter(|i| !i.is_submodule() && seen.insert(i.sha.clone()))
            .map(|i| i.sha.clone())
            .collect();
        Planned {
            method: SyncMethod::Compare,
            fallback: None,
            items: d.items,
            candidates,
            files_total: d.files_total,
            files_changed,
            swap: Swap::Changes(d.changes),
        }
    }

    /// The whole tree of the head against the whole stored manifest.
    async fn walk(&self, head: &BranchHead, fallback: Fallback) -> Result<Planned, RunError> {
        let t = self.target;
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
        Ok(Planned {
            method: SyncMethod::TreeWalk,
            fallback: Some(fallback),
            files_total: tree.len(),
            files_changed: plan.changed + plan.removed,
            items: tree,
            candidates: plan.candidates,
            swap: Swap::Whole {
                old,
                entries: plan.entries,
            },
        })
    }

    /// Fetches what the plan needs, then swaps.
    async fn finish(
        &self,
        planned: Planned,
        head: &BranchHead,
        allowed: HashSet<String>,
        counts: &mut RunCounts,
    ) -> Result<Finished, RunError> {
        let t = self.target;
        counts.files_total = Some(planned.files_total as i64);
        counts.files_changed = Some(planned.files_changed as i64);
        let items = &planned.items;
        // Only blobs no branch of any project has stored yet are fetched, and those stored
        // without content that the size limit now allows.
        let mut missing = manifests::missing_blobs(self.db, &planned.candidates).await?;
        missing.extend(
            items
                .iter()
                .filter(|i| !i.is_submodule() && allowed.contains(&i.sha))
                .map(|i| i.sha.clone()),
        );
        let sizes: HashMap<&str, i64> = items
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
        if total >= self.settings.tarball_threshold && total * 10 >= planned.files_total {
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
        self.commit(planned, &head.commit, counts).await
    }

    /// The swap: manifest, branch state and the run's end commit together, or not at all.
    async fn commit(
        &self,
        planned: Planned,
        head: &Sha,
        counts: &RunCounts,
    ) -> Result<Finished, RunError> {
        let t = self.target;
        let txn = scope::begin_write(self.db, &t.scope()).await?;
        match &planned.swap {
            Swap::Nothing => {}
            Swap::Whole { old, entries } => {
                manifests::replace_manifest(&txn, t.selection.id, old, entries).await?
            }
            Swap::Changes(c) => changes::apply_to_manifest(&txn, t.selection.id, c).await?,
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
            branch: t.branch.clone(),
            sha: head.clone(),
            from_sha: done.from_sha.clone(),
            files_total: done.files_total,
            files_changed: done.files_changed,
            files_fetched: done.files_fetched,
            bytes_fetched: done.bytes_fetched,
            api_requests: done.api_requests,
            method: Some(planned.method),
            fallback: planned.fallback,
        };
        progress::record(&txn, t.project_id, &succeeded).await?;
        // Last but the outbox: it takes the feed's append lock, held until this commit.
        let repository = t.repo.to_string();
        let run = changes::RunInfo {
            project_id: ProjectId(t.project_id),
            project_sync_id: t.selection.id,
            run_id: RunId(self.run.id),
            repository: &repository,
            branch: &t.branch,
            commit_sha: head,
        };
        let kinds = match &planned.swap {
            Swap::Nothing => changes::Counts::default(),
            Swap::Whole { old, entries } => changes::append(&txn, &run, old, entries).await?,
            Swap::Changes(c) => changes::append_changes(&txn, &run, c).await?,
        };
        // The feed's cursor is global (consumers of every installation resume from it): read it,
        // and write the outbox that is not installation-scoped, unscoped.
        scope::set(&txn, &Scope::All).await?;
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
}
