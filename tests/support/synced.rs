//! A hubsync wired to the fake GitHub, and the checks sync tests share: wait for a branch to
//! reach a sha, compare the stored manifest with git's own listing.
use std::{collections::BTreeMap, process::Command, time::Duration};

use hubsync::{
    store::{entities::project_syncs, manifests, selections},
    sync::tarball::git_blob_sha,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{
    fake_github::{FakeGithub, FakeRepo},
    spawn_app_with, test_config,
    wait::{self, Observed},
    webhooks::SECRET,
    TestApp, TestDb,
};

pub const ADMIN: &str = "sync-test-admin-token-0123456789abcdef";

/// Configuration pointing at the fake, with fast retries and no timed reconcile.
pub fn config(fake: &FakeGithub, db: &TestDb, extra: &[(&str, &str)]) -> hubsync::config::Config {
    let env = fake.app_env();
    // Extras first: the first match wins, so a test can override the defaults below.
    let mut vars: Vec<(&str, &str)> = extra.to_vec();
    vars.extend(env.iter().map(|(k, v)| (*k, v.as_str())));
    vars.extend([
        ("GITHUB_WEBHOOK_SECRET", SECRET),
        ("HUBSYNC_ADMIN_TOKEN", ADMIN),
        ("HUBSYNC_WEBHOOK_RETRY_MS", "20"),
        ("HUBSYNC_SYNC_RETRY_SECS", "0.2"),
        ("HUBSYNC_RECONCILE_SECS", "0"),
    ]);
    test_config(db, &vars)
}

pub async fn start(fake: &FakeGithub, db: &TestDb, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with(config(fake, db, extra)).await
}

/// Installs the app (GitHub's `installation.created` delivery) and waits for the default branch
/// of `repo` to be synced at its head. Returns the branch's selection row.
pub async fn install(fake: &FakeGithub, app: &TestApp, repo: &FakeRepo) -> project_syncs::Model {
    let delivery = fake.installation_event(repo.installation_id, "created");
    let r = delivery
        .send(&app.client, &app.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    let head = repo.head("main").expect("main exists");
    wait_synced(&app.app, repo.id, "main", &head, Duration::from_secs(60)).await
}

/// Waits until the branch's last synced sha is `sha`, looking again after each progress event.
pub async fn wait_synced(
    app: &impl Observed,
    repository_id: i64,
    branch: &str,
    sha: &str,
    timeout: Duration,
) -> project_syncs::Model {
    let mut events = app.events();
    let what = format!("branch {branch} reaching {sha}");
    wait::within(timeout, &what, &mut events, async || {
        selection(app.db(), repository_id, branch)
            .await
            .filter(|sel| sel.last_synced_sha.as_deref() == Some(sha))
    })
    .await
}

pub async fn selection(
    db: &DatabaseConnection,
    repository_id: i64,
    branch: &str,
) -> Option<project_syncs::Model> {
    let project = selections::project_of_repository(db, repository_id)
        .await
        .ok()??;
    project_syncs::Entity::find()
        .filter(project_syncs::Column::ProjectId.eq(project.id))
        .filter(project_syncs::Column::Branch.eq(branch))
        .one(db)
        .await
        .ok()?
}

/// `git ls-tree -r -l REV` of the fake's repository: path -> (mode, sha, size).
pub fn ls_tree(repo: &FakeRepo, rev: &str) -> BTreeMap<String, (String, String, Option<i64>)> {
    let out = Command::new("git")
        .arg("-C")
        .arg(&repo.bare)
        .args(["ls-tree", "-r", "-l", "-z", rev])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (meta, path) = line.split_once('\t').unwrap();
            let f: Vec<&str> = meta.split_whitespace().collect();
            (
                path.to_owned(),
                (f[0].to_owned(), f[2].to_owned(), f[3].parse().ok()),
            )
        })
        .collect()
}

/// The stored manifest equals git's listing at `rev`, and every stored blob's bytes hash to its
/// sha (so they are exactly git's bytes). Blobs over `max_size` must be listed, not stored.
pub async fn assert_manifest_matches(
    db: &DatabaseConnection,
    sel: i64,
    repo: &FakeRepo,
    rev: &str,
    max_size: i64,
) {
    let expected = ls_tree(repo, rev);
    let stored = manifests::manifest(db, sel).await.unwrap();
    let got: BTreeMap<String, (String, String, Option<i64>)> = stored
        .iter()
        .map(|f| (f.path.clone(), (f.mode.clone(), f.blob_sha.clone(), f.size)))
        .collect();
    assert_eq!(got.len(), expected.len(), "file count");
    assert!(got == expected, "manifest differs from git ls-tree {rev}");
    for f in stored.iter().filter(|f| f.mode != "160000") {
        let blob = manifests::blob(db, &f.blob_sha)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("blob of {} missing", f.path));
        match blob.content {
            Some(bytes) => assert_eq!(git_blob_sha(&bytes), f.blob_sha, "bytes of {}", f.path),
            None => assert!(
                blob.size > max_size,
                "{} has no content but is small",
                f.path
            ),
        }
    }
}
