//! What the sync layer gets back from GitHub: typed values, parsed once from GitHub's JSON.
use std::fmt;

use serde::Deserialize;

use super::GithubError;
use crate::git::{BranchName, Sha};

/// `owner/name` as GitHub spells it. Only characters GitHub allows, so it is safe in a URL path.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    pub fn parse(full_name: &str) -> Result<Self, GithubError> {
        let bad = || GithubError::Request(format!("{full_name:?} is not an owner/name"));
        let (owner, name) = full_name.split_once('/').ok_or_else(bad)?;
        let ok = |s: &str, extra: &[char]| {
            !s.is_empty()
                && s.len() <= 100
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || extra.contains(&c))
        };
        if ok(owner, &['_']) && ok(name, &['_', '.']) {
            Ok(Self {
                owner: owner.to_owned(),
                name: name.to_owned(),
            })
        } else {
            Err(bad())
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

impl fmt::Debug for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoName({self})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// GitHub's repository id: stable across renames, unlike `full_name`.
    pub id: i64,
    pub full_name: RepoName,
    pub default_branch: BranchName,
    pub private: bool,
    pub archived: bool,
}

/// A branch as GitHub lists it: its name and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRef {
    pub name: BranchName,
    pub commit: Sha,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    pub commit: Sha,
    pub tree: Sha,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Blob,
    Tree,
    /// A submodule: the sha names a commit in another repository.
    Commit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Full path from the repository root.
    pub path: String,
    /// Git's octal mode as GitHub sends it: `100644`, `100755`, `120000`, `040000`, `160000`.
    pub mode: String,
    pub kind: EntryKind,
    pub sha: Sha,
    /// Blobs only.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareStatus {
    Identical,
    Ahead,
    Behind,
    Diverged,
}

/// A file's `status` in a comparison, as GitHub documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileStatus {
    Added,
    Removed,
    Modified,
    Renamed,
    Copied,
    /// The entry's type changed (a file became a symlink, say).
    Changed,
    Unchanged,
}

impl FileStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "added" => Self::Added,
            "removed" => Self::Removed,
            "modified" => Self::Modified,
            "renamed" => Self::Renamed,
            "copied" => Self::Copied,
            "changed" => Self::Changed,
            "unchanged" => Self::Unchanged,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Modified => "modified",
            Self::Renamed => "renamed",
            Self::Copied => "copied",
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub path: String,
    pub status: FileStatus,
    pub previous_path: Option<String>,
    /// The blob after the change (None for removed files, or when GitHub gave none).
    pub sha: Option<Sha>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub status: CompareStatus,
    pub ahead_by: u64,
    pub behind_by: u64,
    pub merge_base: Sha,
    /// GitHub lists at most 300 files; when this is true the list may be incomplete.
    pub files_may_be_truncated: bool,
    /// Listed files without a sha where one was due, or with a status GitHub does not document:
    /// left out of `files`, so a caller that needs every file must not trust the list.
    pub unreadable_files: usize,
    pub files: Vec<ChangedFile>,
}

// GitHub's JSON, tolerant of fields we do not read.

#[derive(Deserialize)]
pub(crate) struct RawRepository {
    pub id: i64,
    pub full_name: String,
    pub default_branch: Option<String>,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub archived: bool,
}

impl RawRepository {
    pub fn parse(self, route: &'static str) -> Result<Repository, GithubError> {
        let decode = |reason: String| GithubError::Decode { route, reason };
        Ok(Repository {
            id: self.id,
            full_name: RepoName::parse(&self.full_name).map_err(|e| decode(e.to_string()))?,
            // An empty repository has no branch yet; GitHub still names `main` as its default.
            default_branch: BranchName::parse(self.default_branch.as_deref().unwrap_or("main"))
                .map_err(|e| decode(e.to_string()))?,
            private: self.private,
            archived: self.archived,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct RawInstallationRepos {
    pub repositories: Vec<RawRepository>,
}

/// One entry of `GET /repos/{owner}/{repo}/branches` ("short branch").
#[derive(Deserialize)]
pub(crate) struct RawBranchRef {
    pub name: String,
    pub commit: RawShaRef,
}

#[derive(Deserialize)]
pub(crate) struct RawBranch {
    pub commit: RawBranchCommit,
}

#[derive(Deserialize)]
pub(crate) struct RawBranchCommit {
    pub sha: String,
    pub commit: RawCommitDetail,
}

#[derive(Deserialize)]
pub(crate) struct RawCommitDetail {
    pub tree: RawShaRef,
}

#[derive(Deserialize)]
pub(crate) struct RawShaRef {
    pub sha: String,
}

#[derive(Deserialize)]
pub(crate) struct RawTree {
    pub tree: Vec<RawTreeEntry>,
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Deserialize)]
pub(crate) struct RawTreeEntry {
    pub path: String,
    pub mode: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
    pub size: Option<u64>,
}

impl RawTreeEntry {
    /// `prefix` is the directory this (non-recursive) listing came from.
    pub fn parse(self, route: &'static str, prefix: &str) -> Result<TreeEntry, GithubError> {
        let decode = |reason: String| GithubError::Decode { route, reason };
        let kind = match self.kind.as_str() {
            "blob" => EntryKind::Blob,
            "tree" => EntryKind::Tree,
            "commit" => EntryKind::Commit,
            other => return Err(decode(format!("unknown tree entry type {other:?}"))),
        };
        Ok(TreeEntry {
            path: format!("{prefix}{}", self.path),
            mode: self.mode,
            kind,
            sha: Sha::parse(&self.sha).map_err(|e| decode(e.to_string()))?,
            size: self.size,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct RawComparison {
    pub status: String,
    pub ahead_by: u64,
    pub behind_by: u64,
    pub merge_base_commit: RawShaRef,
    #[serde(default)]
    pub files: Vec<RawChangedFile>,
}

#[derive(Deserialize)]
pub(crate) struct RawChangedFile {
    pub filename: String,
    pub status: String,
    pub previous_filename: Option<String>,
    pub sha: Option<String>,
}
