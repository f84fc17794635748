//! A push onto the synced head, planned from what changed instead of the whole repository:
//! `GET /compare/{synced}...{head}` names the changed paths and their new blob shas, the stored
//! rows of those paths alone are read, and the directories holding the new versions are listed
//! (one level each) for what compare does not carry: each entry's mode and size, so executables,
//! symlinks, submodules and the size limit come out as a tree walk would have them.
//!
//! Anything compare cannot vouch for is a [`Fallback`] to the tree walk: a force push, a base
//! hubsync never synced, GitHub's 300-file cap, a file without a sha, submodules, or compare and
//! the stored manifest disagreeing about the base.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures_util::{stream, StreamExt, TryStreamExt};
use sea_orm::DatabaseConnection;

use super::{error::RunError, planner::TreeItem, target::Target};
use crate::{
    git::Sha,
    github::{
        BranchHead, CompareStatus, EntryKind, FileStatus, GithubError, InstallationClient,
        TreeEntry,
    },
    progress::Fallback,
    store::{
        changes::{self, FileChange, Version},
        manifests, snapshots,
    },
};

/// More directories than this to list, and one recursive tree is the cheaper read.
const MAX_DIRECTORIES: usize = 64;
/// Directory listings in flight at once.
const LISTING_CONCURRENCY: usize = 4;
/// `.gitmodules` changes with every submodule added or moved: compare may not show the gitlink.
const GITMODULES: &str = ".gitmodules";

/// The change from the stored manifest to the head, from compare.
pub(crate) struct Delta {
    /// As the feed records them (and as diffing the two whole manifests would give them).
    pub changes: Vec<FileChange>,
    /// The new version of every added, modified or renamed path.
    pub items: Vec<TreeItem>,
    /// Entries the manifest will have.
    pub files_total: usize,
}

/// Plans from compare, or says why the tree must be walked instead.
pub(crate) async fn plan(
    db: &DatabaseConnection,
    client: &InstallationClient,
    target: &Target,
    base: &Sha,
    head: &BranchHead,
) -> Result<Result<Delta, Fallback>, RunError> {
    let sel = target.selection.id;
    // The stored manifest is the one this run left, so its count is the run's: counting the rows
    // would read the whole manifest, the one cost of a push that grew with the repository.
    let Some(base_run) = snapshots::run_at(db, sel, base.as_str()).await? else {
        return Ok(Err(Fallback::BaseNotSynced));
    };
    if manifests::has_submodules(db, sel).await? {
        return Ok(Err(Fallback::Submodule));
    }
    let cmp = match client.compare(&target.repo, base, &head.commit).await {
        Ok(c) => c,
        // GitHub no longer knows the synced head (collected after a force push).
        Err(GithubError::NotFound { .. }) => return Ok(Err(Fallback::NotFastForward)),
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "compare unusable; walking the tree");
            return Ok(Err(Fallback::Unlisted));
        }
    };
    if cmp.status != CompareStatus::Ahead || cmp.merge_base != *base {
        return Ok(Err(Fallback::NotFastForward));
    }
    if cmp.files_may_be_truncated {
        return Ok(Err(Fallback::TooManyFiles));
    }
    if cmp.unreadable_files > 0 {
        return Ok(Err(Fallback::Unlisted));
    }

    // What compare says: paths that are gone, and paths with a new version (and its sha).
    let mut gone: BTreeSet<String> = BTreeSet::new();
    let mut updated: BTreeMap<String, Sha> = BTreeMap::new();
    let mut must_exist: BTreeSet<String> = BTreeSet::new();
    for f in &cmp.files {
        let from = f.previous_path.as_deref();
        if f.path == GITMODULES || from == Some(GITMODULES) {
            return Ok(Err(Fallback::Submodule));
        }
        let with_source = matches!(f.status, FileStatus::Renamed | FileStatus::Copied);
        if with_source != from.is_some() {
            return Ok(Err(Fallback::Unlisted));
        }
        match f.status {
            FileStatus::Removed => {
                must_exist.insert(f.path.clone());
                gone.insert(f.path.clone());
                continue;
            }
            FileStatus::Modified | FileStatus::Changed => {
                must_exist.insert(f.path.clone());
            }
            FileStatus::Renamed => {
                let from = from.unwrap_or_default().to_owned();
                must_exist.insert(from.clone());
                gone.insert(from);
            }
            FileStatus::Copied => {
                must_exist.insert(from.unwrap_or_default().to_owned());
            }
            FileStatus::Added => {}
            FileStatus::Unchanged => return Ok(Err(Fallback::Unlisted)),
        }
        let Some(sha) = f.sha.clone() else {
            return Ok(Err(Fallback::Unlisted));
        };
        if updated.insert(f.path.clone(), sha).is_some() {
            return Ok(Err(Fallback::Unlisted));
        }
    }
    if gone.iter().any(|p| updated.contains_key(p)) {
        // A path both gone and new: fine for git (a rewrite), but not worth second-guessing.
        return Ok(Err(Fallback::Unlisted));
    }

    // The stored rows of every path named, and nothing else.
    let touched: Vec<String> = must_exist
        .iter()
        .chain(gone.iter())
        .chain(updated.keys())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let old = changes::as_versions(&manifests::rows_at(db, sel, &touched).await?);
    let stored_as_base = must_exist.iter().all(|p| old.contains_key(p))
        && updated
            .keys()
            .filter(|p| !must_exist.contains(*p))
            .all(|p| !old.contains_key(p));
    if !stored_as_base {
        return Ok(Err(Fallback::ManifestMismatch));
    }
    if old
        .values()
        .any(|v| v.mode == super::planner::SUBMODULE_MODE)
    {
        return Ok(Err(Fallback::Submodule));
    }

    let paths: HashSet<&str> = updated.keys().map(String::as_str).collect();
    let listed = match list_parents(client, target, head, &paths).await? {
        Ok(l) => l,
        Err(why) => return Ok(Err(why)),
    };
    let mut items = Vec::with_capacity(updated.len());
    for (path, sha) in &updated {
        let Some(entry) = listed.get(path.as_str()) else {
            return Ok(Err(Fallback::ManifestMismatch));
        };
        if entry.kind == EntryKind::Commit {
            return Ok(Err(Fallback::Submodule));
        }
        if entry.kind != EntryKind::Blob || entry.sha != *sha {
            return Ok(Err(Fallback::ManifestMismatch));
        }
        items.push(TreeItem {
            path: path.clone(),
            mode: entry.mode.clone(),
            sha: sha.to_string(),
            size: entry.size.map(|s| s as i64),
        });
    }

    let mut new = old.clone();
    for p in &gone {
        new.remove(p);
    }
    for i in &items {
        let v = Version {
            sha: i.sha.clone(),
            mode: i.mode.clone(),
            size: i.size,
        };
        new.insert(i.path.clone(), v);
    }
    let before = match usize::try_from(base_run.files_total) {
        Ok(n) if n > 0 && n >= old.len() => n,
        _ => manifests::count(db, sel).await? as usize,
    };
    Ok(Ok(Delta {
        changes: changes::diff(&old, &new),
        items,
        files_total: (before + new.len()).saturating_sub(old.len()),
    }))
}

/// The entries of the directories holding `paths` at the head, by full path: each directory is
/// listed once, level by level from the root, as only a parent's listing names a child's tree.
async fn list_parents(
    client: &InstallationClient,
    target: &Target,
    head: &BranchHead,
    paths: &HashSet<&str>,
) -> Result<Result<HashMap<String, TreeEntry>, Fallback>, RunError> {
    // Every directory needed, with its ancestors: "" is the root.
    let mut dirs: BTreeSet<&str> = BTreeSet::new();
    for p in paths {
        let mut at = *p;
        while let Some((parent, _)) = at.rsplit_once('/') {
            dirs.insert(parent);
            at = parent;
        }
        dirs.insert("");
    }
    if dirs.len() > MAX_DIRECTORIES {
        return Ok(Err(Fallback::ManyDirectories));
    }
    let depth = |d: &str| {
        if d.is_empty() {
            0
        } else {
            d.matches('/').count() + 1
        }
    };
    let mut shas: HashMap<String, Sha> = HashMap::from([(String::new(), head.tree.clone())]);
    let mut entries: HashMap<String, TreeEntry> = HashMap::new();
    let deepest = dirs.iter().map(|d| depth(d)).max().unwrap_or(0);
    for level in 0..=deepest {
        let mut jobs = Vec::new();
        for d in dirs.iter().filter(|d| depth(d) == level) {
            let Some(sha) = shas.get(*d).cloned() else {
                // The directory is not in its parent's listing: compare and the tree disagree.
                return Ok(Err(Fallback::ManifestMismatch));
            };
            let prefix = if d.is_empty() {
                String::new()
            } else {
                format!("{d}/")
            };
            jobs.push((prefix, sha));
        }
        let listings: Vec<Option<Vec<TreeEntry>>> =
            stream::iter(jobs)
                .map(|(prefix, sha)| async move {
                    client.tree_listing(&target.repo, &sha, &prefix).await
                })
                .buffer_unordered(LISTING_CONCURRENCY)
                .try_collect()
                .await?;
        let wanted_next: HashSet<&str> = dirs
            .iter()
            .filter(|d| depth(d) == level + 1)
            .copied()
            .collect();
        for listing in listings {
            // A directory too large for one listing.
            let Some(listing) = listing else {
                return Ok(Err(Fallback::ManyDirectories));
            };
            for e in listing {
                if e.kind == EntryKind::Tree && wanted_next.contains(e.path.as_str()) {
                    shas.insert(e.path.clone(), e.sha.clone());
                } else if paths.contains(e.path.as_str()) {
                    entries.insert(e.path.clone(), e);
                }
            }
        }
    }
    Ok(Ok(entries))
}
