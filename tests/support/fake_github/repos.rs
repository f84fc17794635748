//! Real git repositories behind the fake: a bare repository per GitHub repository (what the API
//! reads, with `git cat-file`, `ls-tree`, `archive`), and a working clone tests commit in and push
//! from with the git CLI.
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use super::server::State;

pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// Runs git synchronously (test side); panics with git's stderr on failure.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Mona Lisa")
        .env("GIT_AUTHOR_EMAIL", "mona@example.com")
        .env("GIT_COMMITTER_NAME", "Mona Lisa")
        .env("GIT_COMMITTER_EMAIL", "mona@example.com");
    cmd
}

/// Runs git asynchronously against a bare repository (server side). None when git fails.
pub(crate) async fn git_bare(bare: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = tokio::process::Command::new("git")
        .arg("--git-dir")
        .arg(bare)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .await
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// Resolves a ref or sha to a full object id of the given type (`commit`, `tree`), if it exists.
pub(crate) async fn resolve(bare: &Path, rev: &str, kind: &str) -> Option<String> {
    if rev.starts_with('-') {
        return None;
    }
    let out = git_bare(
        bare,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{{kind}}}"),
        ],
    )
    .await?;
    Some(String::from_utf8_lossy(&out).trim().to_owned())
}

/// What a push did: what GitHub's push webhook describes.
#[derive(Debug, Clone)]
pub struct Push {
    pub repo_id: i64,
    pub branch: String,
    pub before: String,
    pub after: String,
    pub created: bool,
    pub deleted: bool,
    pub forced: bool,
}

/// A repository on the fake GitHub, with a working clone to commit in.
#[derive(Clone)]
pub struct FakeRepo {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub installation_id: i64,
    pub bare: PathBuf,
    pub work: PathBuf,
    pub(crate) state: Arc<State>,
}

impl FakeRepo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Writes a file in the working clone (directories created as needed).
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &Self {
        let full = self.work.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create directories");
        }
        std::fs::write(full, contents).expect("write file");
        self
    }

    pub fn remove(&self, path: &str) -> &Self {
        git(&self.work, &["rm", "-q", "-r", "--", path]);
        self
    }

    /// Commits everything in the working clone; returns the new commit's sha.
    pub fn commit(&self, message: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Switches the working clone to `branch`, creating it from the current commit if needed.
    pub fn checkout(&self, branch: &str) -> &Self {
        let exists = git_cmd(&self.work)
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if exists {
            git(&self.work, &["checkout", "-q", branch]);
        } else {
            git(&self.work, &["checkout", "-q", "-b", branch]);
        }
        self
    }

    /// Moves the working branch back to `sha` (to force-push a rewritten history).
    pub fn reset_hard(&self, sha: &str) -> &Self {
        git(&self.work, &["reset", "-q", "--hard", sha]);
        self
    }

    /// The sha a branch points at on the fake GitHub.
    pub fn head(&self, branch: &str) -> Option<String> {
        let out = git_cmd(&self.bare)
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Pushes the working clone's HEAD to `branch`.
    pub fn push(&self, branch: &str) -> Push {
        self.push_inner(branch, false)
    }

    /// `git push --force`: rewrites `branch` to the working clone's HEAD.
    pub fn force_push(&self, branch: &str) -> Push {
        self.push_inner(branch, true)
    }

    fn push_inner(&self, branch: &str, force: bool) -> Push {
        let before = self.head(branch);
        let refspec = format!("HEAD:refs/heads/{branch}");
        let mut args = vec!["push", "-q"];
        if force {
            args.push("--force");
        }
        args.extend(["origin", refspec.as_str()]);
        git(&self.work, &args);
        let after = self.head(branch).expect("pushed branch exists");
        let forced = match &before {
            Some(b) => !git_cmd(&self.bare)
                .args(["merge-base", "--is-ancestor", b, &after])
                .status()
                .map(|s| s.success())
                .unwrap_or(false),
            None => false,
        };
        Push {
            repo_id: self.id,
            branch: branch.to_owned(),
            created: before.is_none(),
            before: before.unwrap_or_else(|| ZERO_SHA.to_owned()),
            after,
            deleted: false,
            forced,
        }
    }

    /// Deletes `branch` on the fake GitHub.
    pub fn delete_branch(&self, branch: &str) -> Push {
        let before = self.head(branch).expect("branch to delete exists");
        git(
            &self.work,
            &["push", "-q", "origin", &format!(":refs/heads/{branch}")],
        );
        Push {
            repo_id: self.id,
            branch: branch.to_owned(),
            before,
            after: ZERO_SHA.to_owned(),
            created: false,
            deleted: true,
            forced: false,
        }
    }

    /// Changes the default branch GitHub reports.
    pub fn set_default_branch(&self, branch: &str) {
        git(
            &self.bare,
            &["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")],
        );
        if let Some(meta) = self.state.inner().repos.get_mut(&self.id) {
            meta.default_branch = branch.to_owned();
        }
    }
}

/// Creates the bare repository and its working clone.
pub(crate) fn init(root: &Path, owner: &str, name: &str) -> (PathBuf, PathBuf) {
    let bare = root.join(format!("{owner}__{name}.git"));
    let work = root.join(format!("{owner}__{name}.work"));
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    git(&bare, &["init", "-q", "--bare", "-b", "main"]);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    (bare, work)
}
