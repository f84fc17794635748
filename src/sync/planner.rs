//! What a run must do, decided from GitHub's tree and the stored manifest by blob sha alone:
//! renames, force pushes and reverts need no special case.
use std::collections::{HashMap, HashSet};

use crate::store::{entities::files, manifests::Entry};

/// Git's mode for a submodule entry: a commit in another repository, recorded but not followed.
pub(crate) const SUBMODULE_MODE: &str = "160000";

/// One file-like entry of a recursive tree (directories left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeItem {
    pub path: String,
    pub mode: String,
    pub sha: String,
    /// None for submodules.
    pub size: Option<i64>,
}

impl TreeItem {
    pub(crate) fn is_submodule(&self) -> bool {
        self.mode == SUBMODULE_MODE
    }
}

#[derive(Debug, Default)]
pub struct Plan {
    /// The manifest the branch will have.
    pub entries: Vec<Entry>,
    /// Paths added or whose sha or mode changed, and paths removed.
    pub changed: usize,
    pub removed: usize,
    /// Blob shas the run must look up in `blobs` (not in the old manifest, so maybe not stored).
    pub candidates: Vec<String>,
}

pub fn plan(tree: &[TreeItem], old: &[files::Model]) -> Plan {
    let old_by_path: HashMap<&str, &files::Model> =
        old.iter().map(|f| (f.path.as_str(), f)).collect();
    let old_shas: HashSet<&str> = old.iter().map(|f| f.blob_sha.as_str()).collect();
    let mut plan = Plan::default();
    let mut seen_candidates = HashSet::new();
    for item in tree {
        match old_by_path.get(item.path.as_str()) {
            Some(f) if f.blob_sha == item.sha && f.mode == item.mode => {}
            _ => plan.changed += 1,
        }
        if !item.is_submodule()
            && !old_shas.contains(item.sha.as_str())
            && seen_candidates.insert(item.sha.clone())
        {
            plan.candidates.push(item.sha.clone());
        }
        plan.entries.push(Entry {
            path: item.path.clone(),
            sha: item.sha.clone(),
            mode: item.mode.clone(),
            size: item.size,
        });
    }
    let new_paths: HashSet<&str> = tree.iter().map(|t| t.path.as_str()).collect();
    plan.removed = old
        .iter()
        .filter(|f| !new_paths.contains(f.path.as_str()))
        .count();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, sha: &str) -> TreeItem {
        TreeItem {
            path: path.into(),
            mode: "100644".into(),
            sha: sha.into(),
            size: Some(1),
        }
    }

    fn stored(path: &str, sha: &str) -> files::Model {
        files::Model {
            project_sync_id: 1,
            path: path.into(),
            blob_sha: sha.into(),
            mode: "100644".into(),
            size: Some(1),
        }
    }

    #[test]
    fn a_rename_changes_paths_but_fetches_nothing() {
        let p = plan(&[item("b.txt", "aa")], &[stored("a.txt", "aa")]);
        assert_eq!((p.changed, p.removed), (1, 1));
        assert!(p.candidates.is_empty());
    }

    #[test]
    fn only_new_shas_are_candidates_and_each_once() {
        let p = plan(
            &[item("a", "aa"), item("b", "bb"), item("c", "bb")],
            &[stored("a", "aa")],
        );
        assert_eq!(p.candidates, vec!["bb".to_string()]);
        assert_eq!(p.changed, 2);
    }

    #[test]
    fn submodules_are_listed_not_fetched() {
        let sub = TreeItem {
            path: "vendor/lib".into(),
            mode: SUBMODULE_MODE.into(),
            sha: "cc".into(),
            size: None,
        };
        let p = plan(&[sub], &[]);
        assert!(p.candidates.is_empty());
        assert_eq!(p.entries.len(), 1);
    }

    #[test]
    fn a_mode_change_counts_as_a_change() {
        let mut exe = item("run.sh", "aa");
        exe.mode = "100755".into();
        let p = plan(&[exe], &[stored("run.sh", "aa")]);
        assert_eq!(p.changed, 1);
        assert!(p.candidates.is_empty());
    }
}
