//! Branch patterns: selecting `release/*` syncs every matching branch that exists already, not
//! only those pushed later; removing the pattern stops them and keeps their data.
use std::time::Duration;

use hubsync::store::entities::sync_runs;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub, FakeRepo},
        synced::{self, assert_manifest_matches},
        webhooks::SECRET,
        TestApp,
    },
};

const WAIT: Duration = Duration::from_secs(60);
const MAX: i64 = 10 << 20;

/// `n` branches `prefix{i}` at the working clone's HEAD, pushed in one go.
fn branches(repo: &FakeRepo, prefix: &str, n: usize) {
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo.work)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    for i in 0..n {
        git(&["branch", "-f", &format!("{prefix}{i}")]);
    }
    git(&[
        "push",
        "-q",
        "origin",
        &format!("refs/heads/{prefix}*:refs/heads/{prefix}*"),
    ]);
}

async fn put_branches(app: &TestApp, project: i64, branches: &[&str]) -> Value {
    let r = app
        .client
        .put(app.url(&format!("/api/v1/projects/{project}/branches")))
        .bearer_auth(synced::ADMIN)
        .json(&json!({ "branches": branches }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

db_test! {
    async fn a_pattern_syncs_every_existing_match_and_removing_it_keeps_their_data(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "releases");
        repo.write("README.md", "main\n");
        repo.commit("start");
        repo.push("main");
        // More branches than one page of GitHub's listing holds, two of them releases.
        branches(&repo, "feature/f", 120);
        repo.checkout("release/1.0");
        repo.write("VERSION", "1.0\n");
        repo.commit("1.0");
        let one = repo.push("release/1.0");
        repo.checkout("release/2.0");
        repo.write("VERSION", "2.0\n");
        repo.commit("2.0");
        let two = repo.push("release/2.0");
        repo.checkout("release/old/1.0");
        repo.commit("not matched: * stays within one segment");
        repo.push("release/old/1.0");

        let app = synced::start(&fake, &db, &[]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        let project = sel.project_id;
        put_branches(&app, project, &["main", "release/*"]).await;

        // No push follows: the branches that exist are listed from GitHub and synced.
        let r1 = synced::wait_synced(&app.app, repo.id, "release/1.0", &one.after, WAIT).await;
        let r2 = synced::wait_synced(&app.app, repo.id, "release/2.0", &two.after, WAIT).await;
        assert_manifest_matches(&app.app.db, r1.id, &repo, "release/1.0", MAX).await;
        assert_manifest_matches(&app.app.db, r2.id, &repo, "release/2.0", MAX).await;
        assert!(synced::selection(&app.app.db, repo.id, "release/old/1.0").await.is_none());
        assert!(synced::selection(&app.app.db, repo.id, "feature/f0").await.is_none());
        assert!(fake.requests(route::BRANCHES) >= 2, "the listing followed its Link pages");

        // The pattern goes: its branches stop syncing and keep what they had.
        put_branches(&app, project, &["main"]).await;
        repo.checkout("release/1.0");
        repo.write("VERSION", "1.1\n");
        repo.commit("1.1");
        let later = repo.push("release/1.0");
        let delivery = fake.push_event(&later);
        let r = delivery.send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 202);
        assert_eq!(app.processed(&delivery.delivery_id).await.status, "processed");
        let runs = sync_runs::Entity::find()
            .filter(sync_runs::Column::ProjectSyncId.eq(r1.id))
            .filter(sync_runs::Column::Status.is_in(["queued", "running"]))
            .count(&app.app.db)
            .await
            .unwrap();
        assert_eq!(runs, 0, "an unselected branch is not synced");
        let kept = synced::selection(&app.app.db, repo.id, "release/1.0").await.unwrap();
        assert!(!kept.enabled);
        assert_eq!(kept.last_synced_sha.as_deref(), Some(one.after.as_str()));
        let files: Value = app
            .client
            .get(app.url(&format!("/api/v1/projects/{project}/files?branch=release/1.0")))
            .bearer_auth(synced::ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(files["files"].as_array().map(Vec::len), Some(2), "{files}");
        app.stop().await;
    }
}

db_test! {
    async fn a_push_that_creates_a_matching_branch_runs_as_create(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "fresh");
        repo.write("README.md", "main\n");
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        put_branches(&app, sel.project_id, &["main", "release/*"]).await;
        // The pattern's listing of existing branches is done before the branch exists, so only
        // the push can select it.
        fake.wait_requests(route::BRANCHES, 1).await;

        // GitHub's `push` for a new branch says `created: true`; its `create` may come later or
        // not at all, and the run is still labelled for what happened.
        repo.checkout("release/3.0");
        repo.write("VERSION", "3.0\n");
        repo.commit("3.0");
        let push = repo.push("release/3.0");
        assert!(push.created);
        let delivery = fake.push_event(&push);
        assert_eq!(delivery.send(&app.client, &app.url("/webhooks/github"), SECRET).await.status(), 202);
        let synced = synced::wait_synced(&app.app, repo.id, "release/3.0", &push.after, WAIT).await;
        let run = sync_runs::Entity::find()
            .filter(sync_runs::Column::ProjectSyncId.eq(synced.id))
            .one(&app.app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((run.trigger.as_str(), run.status.as_str()), ("create", "succeeded"));
        app.stop().await;
    }
}
