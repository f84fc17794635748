//! The typed calls the sync layer makes, on behalf of one installation.
use std::{pin::Pin, sync::Arc};

use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt, TryStreamExt};
use http::Method;
use http_body_util::BodyDataStream;
use serde::de::DeserializeOwned;
use url::Url;

use super::{
    client::{Answer, Body, Credential, Mode, Req},
    types::*,
    GithubApp, GithubError, RequestCounter,
};
use crate::git::{BranchName, Sha};

pub(super) mod lists;

const JSON: &str = "application/vnd.github+json";
const RAW: &str = "application/vnd.github.raw+json";
/// Subtrees fetched at once when walking a truncated tree.
const TREE_WALK_CONCURRENCY: usize = 4;

/// A byte stream of a gzipped tar archive, read as it arrives from GitHub.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, GithubError>> + Send>>;

/// A byte stream as an `AsyncRead` (e.g. to untar a tarball as it arrives).
pub fn stream_reader(stream: ByteStream) -> impl tokio::io::AsyncRead + Send + Unpin {
    tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other))
}

/// GitHub, as one installation of the app sees it. Cheap to clone; clones share the counter.
#[derive(Clone)]
pub struct InstallationClient {
    app: Arc<GithubApp>,
    installation_id: i64,
    counter: RequestCounter,
}

impl std::fmt::Debug for InstallationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InstallationClient({})", self.installation_id)
    }
}

pub(crate) fn decode<T: DeserializeOwned>(
    route: &'static str,
    answer: &Answer,
) -> Result<T, GithubError> {
    match &answer.body {
        Body::Bytes(b) => serde_json::from_slice(b).map_err(|e| GithubError::Decode {
            route,
            reason: e.to_string(),
        }),
        Body::Stream(_) => Err(GithubError::Decode {
            route,
            reason: "expected a JSON body".into(),
        }),
    }
}

/// Percent-encodes each segment of a branch name, keeping its slashes.
fn branch_path(branch: &BranchName) -> String {
    branch
        .as_str()
        .split('/')
        .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

impl InstallationClient {
    pub(crate) fn new(app: Arc<GithubApp>, installation_id: i64, counter: RequestCounter) -> Self {
        Self {
            app,
            installation_id,
            counter,
        }
    }

    /// The same installation, counting into `counter` (e.g. the sync run's own).
    pub(crate) fn with_counter(mut self, counter: RequestCounter) -> Self {
        self.counter = counter;
        self
    }

    pub fn installation_id(&self) -> i64 {
        self.installation_id
    }

    /// HTTP requests made through this client and its clones, retries included.
    pub fn requests_made(&self) -> u64 {
        self.counter.get()
    }

    pub fn counter(&self) -> &RequestCounter {
        &self.counter
    }

    async fn send(
        &self,
        route: &'static str,
        url: Url,
        accept: &'static str,
        mode: Mode,
    ) -> Result<Answer, GithubError> {
        let req = Req {
            method: Method::GET,
            route,
            url,
            accept,
            body: None,
        };
        let cred = Credential::Installation {
            id: self.installation_id,
            app: &self.app,
        };
        self.app
            .http
            .execute(cred, &req, Some(&self.counter), mode)
            .await
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        route: &'static str,
        path: &str,
    ) -> Result<T, GithubError> {
        let answer = self
            .send(route, self.app.http.url(path)?, JSON, Mode::Buffer)
            .await?;
        decode(route, &answer)
    }

    pub async fn repository(&self, repo: &RepoName) -> Result<Repository, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}";
        let raw: RawRepository = self.get_json(ROUTE, &format!("/repos/{repo}")).await?;
        raw.parse(ROUTE)
    }

    /// By GitHub's id, which survives renames and transfers.
    pub async fn repository_by_id(&self, id: i64) -> Result<Repository, GithubError> {
        const ROUTE: &str = "GET /repositories/{repository_id}";
        let raw: RawRepository = self.get_json(ROUTE, &format!("/repositories/{id}")).await?;
        raw.parse(ROUTE)
    }

    /// The commit a branch points at now, and that commit's root tree.
    pub async fn branch_head(
        &self,
        repo: &RepoName,
        branch: &BranchName,
    ) -> Result<BranchHead, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/branches/{branch}";
        let path = format!("/repos/{repo}/branches/{}", branch_path(branch));
        let raw: RawBranch = self.get_json(ROUTE, &path).await?;
        let sha = |s: &str| {
            Sha::parse(s).map_err(|e| GithubError::Decode {
                route: ROUTE,
                reason: e.to_string(),
            })
        };
        Ok(BranchHead {
            commit: sha(&raw.commit.sha)?,
            tree: sha(&raw.commit.commit.tree.sha)?,
        })
    }

    /// Every entry under `tree` (a tree or commit sha), blobs and trees alike. When GitHub
    /// truncates the recursive listing, the tree is walked one level at a time instead.
    pub async fn tree(&self, repo: &RepoName, tree: &Sha) -> Result<Vec<TreeEntry>, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/git/trees/{tree_sha}";
        let path = format!("/repos/{repo}/git/trees/{tree}?recursive=1");
        let raw: RawTree = self.get_json(ROUTE, &path).await?;
        if !raw.truncated {
            return raw.tree.into_iter().map(|e| e.parse(ROUTE, "")).collect();
        }
        tracing::info!(%repo, %tree, "recursive tree truncated; walking subtrees");
        self.walk_tree(repo, tree).await
    }

    async fn walk_tree(&self, repo: &RepoName, root: &Sha) -> Result<Vec<TreeEntry>, GithubError> {
        let mut entries = Vec::new();
        let mut level = vec![(String::new(), root.clone())];
        while !level.is_empty() {
            let listings: Vec<Vec<TreeEntry>> = stream::iter(level)
                .map(|(prefix, sha)| async move { self.tree_level(repo, &sha, &prefix).await })
                .buffer_unordered(TREE_WALK_CONCURRENCY)
                .try_collect()
                .await?;
            level = Vec::new();
            for entry in listings.into_iter().flatten() {
                if entry.kind == EntryKind::Tree {
                    level.push((format!("{}/", entry.path), entry.sha.clone()));
                }
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    async fn tree_level(
        &self,
        repo: &RepoName,
        tree: &Sha,
        prefix: &str,
    ) -> Result<Vec<TreeEntry>, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/git/trees/{tree_sha}";
        let raw: RawTree = self
            .get_json(ROUTE, &format!("/repos/{repo}/git/trees/{tree}"))
            .await?;
        if raw.truncated {
            // One directory with more entries than GitHub lists at once: nothing to walk into.
            return Err(GithubError::Decode {
                route: ROUTE,
                reason: format!("the directory {prefix:?} is too large for the trees API"),
            });
        }
        raw.tree
            .into_iter()
            .map(|e| e.parse(ROUTE, prefix))
            .collect()
    }

    /// A blob's raw bytes.
    pub async fn blob(&self, repo: &RepoName, sha: &Sha) -> Result<Bytes, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/git/blobs/{file_sha}";
        let url = self
            .app
            .http
            .url(&format!("/repos/{repo}/git/blobs/{sha}"))?;
        match self.send(ROUTE, url, RAW, Mode::Buffer).await?.body {
            Body::Bytes(b) => Ok(b),
            Body::Stream(_) => unreachable!("buffered requests answer bytes"),
        }
    }

    /// The gzipped tarball of a commit, as a stream: GitHub answers 302 to codeload, which is
    /// followed; nothing is buffered beyond the chunk in hand.
    pub async fn tarball(&self, repo: &RepoName, commit: &Sha) -> Result<ByteStream, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/tarball/{ref}";
        let url = self
            .app
            .http
            .url(&format!("/repos/{repo}/tarball/{commit}"))?;
        match self.send(ROUTE, url, JSON, Mode::Stream).await?.body {
            Body::Stream(body) => Ok(Box::pin(BodyDataStream::new(body).map_err(|e| {
                GithubError::Transport {
                    route: ROUTE,
                    reason: e.to_string(),
                }
            }))),
            Body::Bytes(b) => Ok(Box::pin(stream::iter([Ok(b)]))),
        }
    }

    /// What changed from `base` to `head`.
    pub async fn compare(
        &self,
        repo: &RepoName,
        base: &Sha,
        head: &Sha,
    ) -> Result<Comparison, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/compare/{basehead}";
        let raw: RawComparison = self
            .get_json(ROUTE, &format!("/repos/{repo}/compare/{base}...{head}"))
            .await?;
        let decode = |reason: String| GithubError::Decode {
            route: ROUTE,
            reason,
        };
        let status = match raw.status.as_str() {
            "identical" => CompareStatus::Identical,
            "ahead" => CompareStatus::Ahead,
            "behind" => CompareStatus::Behind,
            "diverged" => CompareStatus::Diverged,
            other => return Err(decode(format!("unknown compare status {other:?}"))),
        };
        let listed = raw.files.len();
        let mut files = Vec::with_capacity(listed);
        let mut unreadable_files = 0;
        for f in raw.files {
            let Some(status) = FileStatus::parse(&f.status) else {
                unreadable_files += 1;
                continue;
            };
            let sha = match (status, f.sha.as_deref()) {
                (FileStatus::Removed, _) => None,
                (_, Some(s)) => Some(Sha::parse(s).map_err(|e| decode(e.to_string()))?),
                (_, None) => {
                    unreadable_files += 1;
                    continue;
                }
            };
            files.push(ChangedFile {
                path: f.filename,
                status,
                previous_path: f.previous_filename,
                sha,
            });
        }
        Ok(Comparison {
            status,
            ahead_by: raw.ahead_by,
            behind_by: raw.behind_by,
            merge_base: Sha::parse(&raw.merge_base_commit.sha)
                .map_err(|e| decode(e.to_string()))?,
            files_may_be_truncated: listed >= 300,
            unreadable_files,
            files,
        })
    }

    /// One directory's entries (not recursive), paths prefixed with `prefix`; None when GitHub
    /// truncates the listing.
    pub(crate) async fn tree_listing(
        &self,
        repo: &RepoName,
        tree: &Sha,
        prefix: &str,
    ) -> Result<Option<Vec<TreeEntry>>, GithubError> {
        const ROUTE: &str = "GET /repos/{owner}/{repo}/git/trees/{tree_sha}";
        let raw: RawTree = self
            .get_json(ROUTE, &format!("/repos/{repo}/git/trees/{tree}"))
            .await?;
        if raw.truncated {
            return Ok(None);
        }
        raw.tree
            .into_iter()
            .map(|e| e.parse(ROUTE, prefix))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_encoded_per_segment() {
        let b = BranchName::parse("release/ü-1").unwrap();
        assert_eq!(branch_path(&b), "release/%C3%BC-1");
    }
}
