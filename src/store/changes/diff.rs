//! The file changes between two manifests of a branch, renames included.
use std::collections::{BTreeMap, HashMap};

pub use crate::store::entities::changes::ChangeKind;

/// A manifest entry as the diff sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub sha: String,
    pub mode: String,
    pub size: Option<i64>,
}

/// One path's change. `path` is the new path (the old one for a deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub kind: ChangeKind,
    pub previous_path: Option<String>,
    /// The version after the change (None for a deletion) and before it (None for an addition).
    pub new: Option<Version>,
    pub old: Option<Version>,
}

/// The changes that turn `old` into `new`, sorted by path. A path deleted and another added with
/// the same blob sha (and mode) is one rename, as `git diff -M` reports an exact rename; several
/// candidates pair in path order, so the result does not depend on hash order.
pub fn diff(old: &BTreeMap<String, Version>, new: &BTreeMap<String, Version>) -> Vec<FileChange> {
    let mut out = Vec::new();
    let mut deleted: Vec<(&String, &Version)> = Vec::new();
    let mut added: Vec<(&String, &Version)> = Vec::new();
    for (path, v) in new {
        match old.get(path) {
            None => added.push((path, v)),
            Some(o) if o != v => out.push(FileChange {
                path: path.clone(),
                kind: ChangeKind::Modified,
                previous_path: None,
                new: Some(v.clone()),
                old: Some(o.clone()),
            }),
            Some(_) => {}
        }
    }
    for (path, v) in old {
        if !new.contains_key(path) {
            deleted.push((path, v));
        }
    }
    // Deleted paths by (sha, mode), in path order: each added path takes the first one left.
    let mut sources: HashMap<(&str, &str), std::collections::VecDeque<&String>> = HashMap::new();
    for (path, v) in &deleted {
        sources
            .entry((v.sha.as_str(), v.mode.as_str()))
            .or_default()
            .push_back(path);
    }
    let mut renamed_from = std::collections::HashSet::new();
    for (path, v) in added {
        let from = sources
            .get_mut(&(v.sha.as_str(), v.mode.as_str()))
            .and_then(|q| q.pop_front());
        match from {
            Some(from) => {
                renamed_from.insert(from.as_str());
                out.push(FileChange {
                    path: path.clone(),
                    kind: ChangeKind::Renamed,
                    previous_path: Some(from.clone()),
                    new: Some(v.clone()),
                    old: old.get(from).cloned(),
                });
            }
            None => out.push(FileChange {
                path: path.clone(),
                kind: ChangeKind::Added,
                previous_path: None,
                new: Some(v.clone()),
                old: None,
            }),
        }
    }
    for (path, v) in deleted {
        if !renamed_from.contains(path.as_str()) {
            out.push(FileChange {
                path: path.clone(),
                kind: ChangeKind::Deleted,
                previous_path: None,
                new: None,
                old: Some(v.clone()),
            });
        }
    }
    out.sort_by(|a, b| {
        a.path
            .cmp(&b.path)
            .then(a.kind.as_str().cmp(b.kind.as_str()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(entries: &[(&str, &str)]) -> BTreeMap<String, Version> {
        entries
            .iter()
            .map(|(p, s)| {
                let v = Version {
                    sha: s.to_string(),
                    mode: "100644".into(),
                    size: Some(1),
                };
                (p.to_string(), v)
            })
            .collect()
    }

    fn kinds(c: &[FileChange]) -> Vec<(String, &'static str, Option<String>)> {
        c.iter()
            .map(|c| (c.path.clone(), c.kind.as_str(), c.previous_path.clone()))
            .collect()
    }

    #[test]
    fn adds_modifies_deletes_and_renames() {
        let old = m(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        let new = m(&[("a", "1"), ("b", "9"), ("e", "3"), ("f", "5")]);
        assert_eq!(
            kinds(&diff(&old, &new)),
            vec![
                ("b".into(), "modified", None),
                ("d".into(), "deleted", None),
                ("e".into(), "renamed", Some("c".into())),
                ("f".into(), "added", None),
            ]
        );
    }

    #[test]
    fn duplicate_contents_pair_in_path_order_and_the_rest_are_added_or_deleted() {
        let old = m(&[("x1", "s"), ("x2", "s")]);
        let new = m(&[("y1", "s"), ("y2", "s"), ("y3", "s")]);
        assert_eq!(
            kinds(&diff(&old, &new)),
            vec![
                ("y1".into(), "renamed", Some("x1".into())),
                ("y2".into(), "renamed", Some("x2".into())),
                ("y3".into(), "added", None),
            ]
        );
    }

    #[test]
    fn a_copy_keeps_its_source_and_a_mode_change_is_a_modification() {
        let old = m(&[("a", "1"), ("run.sh", "2")]);
        let mut new = m(&[("a", "1"), ("b", "1"), ("run.sh", "2")]);
        new.get_mut("run.sh").unwrap().mode = "100755".into();
        assert_eq!(
            kinds(&diff(&old, &new)),
            vec![
                ("b".into(), "added", None),
                ("run.sh".into(), "modified", None)
            ]
        );
        assert!(diff(&new, &new).is_empty());
    }
}
