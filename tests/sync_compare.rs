//! Pushes onto the synced head are planned from GitHub's compare: only the change is read (the
//! fake counts every request), and the manifest, the change feed and snapshots come out exactly
//! as a whole-tree walk makes them. What compare cannot vouch for walks the tree.
use std::{collections::BTreeMap, path::Path, process::Command, time::Duration};

use hubsync::store::{
    changes::{self, Version},
    entities::{changes as change_rows, sync_events, sync_runs},
    snapshots,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

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
const MAX: i64 = 10 * 1024 * 1024;

/// Pushes the working clone's new commits and waits until the branch is synced there.
async fn push_and_sync(
    fake: &FakeGithub,
    app: &TestApp,
    repo: &FakeRepo,
    force: bool,
) -> (String, i64) {
    let push = if force {
        repo.force_push("main")
    } else {
        repo.push("main")
    };
    fake.reset_counts();
    let r = fake
        .push_event(&push)
        .send(&app.client, &app.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
    (push.after, sel.id)
}

/// The last successful run of the branch, and what its `succeeded` event says of its method.
async fn last_run(db: &DatabaseConnection, sel: i64) -> (sync_runs::Model, Value) {
    let run = sync_runs::Entity::find()
        .filter(sync_runs::Column::ProjectSyncId.eq(sel))
        .filter(sync_runs::Column::Status.eq(hubsync::store::runs::RunStatus::Succeeded))
        .order_by_desc(sync_runs::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let ev = sync_events::Entity::find()
        .filter(sync_events::Column::RunId.eq(run.id))
        .filter(sync_events::Column::Kind.eq("succeeded"))
        .one(db)
        .await
        .unwrap()
        .expect("a succeeded event");
    (run, ev.data)
}

fn versions(repo: &FakeRepo, rev: &str) -> BTreeMap<String, Version> {
    synced::ls_tree(repo, rev)
        .into_iter()
        .map(|(p, (mode, sha, size))| (p, Version { sha, mode, size }))
        .collect()
}

type Change = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The feed rows of a run, as (path, change, previous path, blob, previous blob, mode, previous mode).
async fn feed_of(db: &DatabaseConnection, run: i64) -> Vec<Change> {
    let rows = change_rows::Entity::find()
        .filter(change_rows::Column::RunId.eq(run))
        .order_by_asc(change_rows::Column::Id)
        .all(db)
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r.path,
                r.change.as_str().to_owned(),
                r.previous_path,
                r.blob_sha,
                r.previous_blob_sha,
                r.mode,
                r.previous_mode,
            )
        })
        .collect()
}

/// What a whole-tree walk appends for `before` -> `after`: the diff of git's own listings.
fn expected_feed(repo: &FakeRepo, before: &str, after: &str) -> Vec<Change> {
    changes::diff(&versions(repo, before), &versions(repo, after))
        .into_iter()
        .map(|c| {
            let current = c.new.as_ref().or(c.old.as_ref()).map(|v| v.mode.clone());
            (
                c.path,
                c.kind.as_str().to_owned(),
                c.previous_path,
                c.new.map(|v| v.sha),
                c.old.as_ref().map(|v| v.sha.clone()),
                current,
                c.old.map(|v| v.mode),
            )
        })
        .collect()
}

/// The manifest, the run's feed rows and the snapshot at `after` are what a tree walk gives.
async fn assert_exact(
    app: &TestApp,
    repo: &FakeRepo,
    sel: i64,
    before: &str,
    after: &str,
) -> Value {
    let db = &app.app.db;
    assert_manifest_matches(db, sel, repo, after, MAX).await;
    let (run, event) = last_run(db, sel).await;
    assert_eq!(
        feed_of(db, run.id).await,
        expected_feed(repo, before, after),
        "feed of {after}"
    );
    // Counted from the base's run, not the rows: still the number of files at `after`.
    let files = versions(repo, after).len() as i64;
    assert_eq!(
        (run.files_total, event["files_total"].as_i64()),
        (files, Some(files)),
        "{after}"
    );
    event
}

fn git(work: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(work)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Mona")
        .env("GIT_AUTHOR_EMAIL", "mona@example.com")
        .env("GIT_COMMITTER_NAME", "Mona")
        .env("GIT_COMMITTER_EMAIL", "mona@example.com")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

async fn start(fake: &FakeGithub, db: &crate::support::TestDb, repo: &FakeRepo) -> (TestApp, i64) {
    let app = synced::start(fake, db, &[]).await;
    let sel = synced::install(fake, &app, repo).await;
    (app, sel.id)
}

db_test! {
    async fn a_one_file_push_reads_one_compare_and_one_blob(db) {
        let fake = FakeGithub::start().await;
        let repo = fake.create_repo(fake.add_installation("octo-org"), "big");
        for i in 0..200 {
            repo.write(&format!("src/d{}/f{i}.txt", i % 10), format!("file {i}\n"));
        }
        let c1 = repo.commit("many");
        repo.push("main");
        let (app, sel) = start(&fake, &db, &repo).await;
        let (_, first) = last_run(&app.app.db, sel).await;
        assert_eq!((first["method"].as_str(), first["fallback"].as_str()), (Some("tree_walk"), Some("first_sync")));

        repo.write("src/d3/f13.txt", "changed\n");
        repo.commit("one file");
        let (c2, _) = push_and_sync(&fake, &app, &repo, false).await;
        let event = assert_exact(&app, &repo, sel, &c1, &c2).await;
        assert_eq!(event["method"].as_str(), Some("compare"), "{event}");
        assert!(event.get("fallback").is_none(), "{event}");
        // The change alone: one compare, one blob, and the changed file's directories (root,
        // src, src/d3) for its mode and size; never the whole tree, the tarball or the rest.
        assert_eq!(fake.requests(route::COMPARE), 1);
        assert_eq!(fake.requests(route::BLOB), 1);
        assert_eq!(fake.recursive_tree_requests(), 0);
        assert_eq!(fake.requests(route::TREE), 3);
        assert_eq!(fake.requests(route::TARBALL), 0);
        assert_eq!(event["files_total"].as_i64(), Some(200));
        assert_eq!((event["files_changed"].as_i64(), event["files_fetched"].as_i64()), (Some(1), Some(1)));
        app.stop().await;
    }
}

db_test! {
    async fn renames_deletes_adds_modes_and_symlinks_come_out_as_a_tree_walk(db) {
        let fake = FakeGithub::start().await;
        let repo = fake.create_repo(fake.add_installation("octo-org"), "shapes");
        repo.write("a.txt", "alpha\n").write("b.txt", "bravo\n").write("docs/guide.md", "# guide\nlong enough to be similar\n")
            .write("run.sh", "echo hi\n").write("keep/x.txt", "x\n").write("dup1.txt", "same\n");
        let mut shas = vec![repo.commit("one")];
        repo.push("main");
        let (app, sel) = start(&fake, &db, &repo).await;
        let work = repo.work.clone();
        type Step<'a> = Box<dyn Fn() + 'a>;
        let steps: Vec<Step> = vec![
            // An exact rename, a deletion, an addition, an executable and a symlink added.
            Box::new(|| {
                std::fs::create_dir_all(work.join("moved")).unwrap();
                git(&work, &["mv", "a.txt", "moved/a.txt"]);
                repo.remove("b.txt");
                repo.write("new.txt", "new\n").write("tool.sh", "#!/bin/sh\n");
                std::fs::set_permissions(work.join("tool.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
                std::os::unix::fs::symlink("keep/x.txt", work.join("link")).unwrap();
            }),
            // A rename with an edit (compare says renamed; the feed says deleted and added, as a
            // tree walk does), a mode change alone, a mode change with an edit, a symlink retargeted.
            Box::new(|| {
                git(&work, &["mv", "docs/guide.md", "docs/manual.md"]);
                repo.write("docs/manual.md", "# guide\nlong enough to be similar\nmore\n");
                std::fs::set_permissions(work.join("run.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
                repo.write("tool.sh", "#!/bin/sh\necho\n");
                std::fs::set_permissions(work.join("tool.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
                std::fs::remove_file(work.join("link")).unwrap();
                std::os::unix::fs::symlink("new.txt", work.join("link")).unwrap();
            }),
            // A copy of an existing blob under a new name, a file turned into a symlink, and the
            // last file of a directory deleted.
            Box::new(|| {
                repo.write("dup2.txt", "same\n");
                std::fs::remove_file(work.join("new.txt")).unwrap();
                std::os::unix::fs::symlink("dup1.txt", work.join("new.txt")).unwrap();
                repo.remove("keep/x.txt");
            }),
        ];
        for step in steps {
            step();
            repo.commit("step");
            let before = shas.last().unwrap().clone();
            let (after, _) = push_and_sync(&fake, &app, &repo, false).await;
            let event = assert_exact(&app, &repo, sel, &before, &after).await;
            assert_eq!(event["method"].as_str(), Some("compare"), "{event}");
            assert_eq!(fake.recursive_tree_requests(), 0);
            shas.push(after);
        }
        // Every synced commit reads back as git has it, though no run rewrote the manifest.
        for sha in &shas {
            let tree = snapshots::tree_at(&app.app.db, sel, sha).await.unwrap().unwrap();
            assert!(tree == versions(&repo, sha), "snapshot at {sha}");
        }
        app.stop().await;
    }
}

db_test! {
    async fn force_pushes_and_more_than_300_files_walk_the_tree_and_end_right(db) {
        let fake = FakeGithub::start().await;
        let repo = fake.create_repo(fake.add_installation("octo-org"), "rewrite");
        repo.write("a.txt", "a\n").write("b.txt", "b\n");
        let c1 = repo.commit("one");
        repo.push("main");
        let (app, sel) = start(&fake, &db, &repo).await;
        repo.write("a.txt", "a2\n");
        repo.commit("two");
        let (c2, _) = push_and_sync(&fake, &app, &repo, false).await;
        assert_eq!(assert_exact(&app, &repo, sel, &c1, &c2).await["method"].as_str(), Some("compare"));

        repo.reset_hard(&c1);
        repo.write("c.txt", "c\n");
        repo.commit("rewritten");
        let (c3, _) = push_and_sync(&fake, &app, &repo, true).await;
        let event = assert_exact(&app, &repo, sel, &c2, &c3).await;
        assert_eq!((event["method"].as_str(), event["fallback"].as_str()), (Some("tree_walk"), Some("not_fast_forward")));
        assert_eq!(fake.recursive_tree_requests(), 1);

        for i in 0..301 {
            repo.write(&format!("many/f{i}.txt"), format!("{i}\n"));
        }
        repo.commit("301 files");
        let (c4, _) = push_and_sync(&fake, &app, &repo, false).await;
        let event = assert_exact(&app, &repo, sel, &c3, &c4).await;
        assert_eq!((event["method"].as_str(), event["fallback"].as_str()), (Some("tree_walk"), Some("too_many_files")));

        // 300 files exactly: GitHub's list may be cut there too, so it is not trusted either.
        for i in 0..300 {
            repo.write(&format!("many/f{i}.txt"), format!("{i} again\n"));
        }
        repo.commit("300 files");
        let (c5, _) = push_and_sync(&fake, &app, &repo, false).await;
        let event = assert_exact(&app, &repo, sel, &c4, &c5).await;
        assert_eq!(event["fallback"].as_str(), Some("too_many_files"));
        app.stop().await;
    }
}

db_test! {
    async fn a_base_hubsync_never_synced_walks_the_tree(db) {
        let fake = FakeGithub::start().await;
        let repo = fake.create_repo(fake.add_installation("octo-org"), "unknown-base");
        repo.write("a.txt", "a\n");
        let c1 = repo.commit("one");
        repo.write("a.txt", "a2\n");
        let c2 = repo.commit("two");
        repo.push("main");
        let (app, sel) = start(&fake, &db, &repo).await;
        // The branch claims a head no run synced (restored from elsewhere, say).
        use hubsync::store::entities::project_syncs;
        use sea_orm::sea_query::Expr;
        project_syncs::Entity::update_many()
            .col_expr(project_syncs::Column::LastSyncedSha, Expr::value(c1.clone()))
            .filter(project_syncs::Column::Id.eq(sel))
            .exec(&app.app.db).await.unwrap();
        repo.write("b.txt", "b\n");
        repo.commit("three");
        let (c3, _) = push_and_sync(&fake, &app, &repo, false).await;
        let event = assert_exact(&app, &repo, sel, &c2, &c3).await;
        assert_eq!((event["method"].as_str(), event["fallback"].as_str()), (Some("tree_walk"), Some("base_not_synced")));
        assert_eq!(fake.requests(route::COMPARE), 0);
        app.stop().await;
    }
}

db_test! {
    async fn submodules_walk_the_tree(db) {
        let fake = FakeGithub::start().await;
        let repo = fake.create_repo(fake.add_installation("octo-org"), "with-modules");
        repo.write("a.txt", "a\n");
        let c1 = repo.commit("one");
        repo.push("main");
        let (app, sel) = start(&fake, &db, &repo).await;
        // A gitlink and its .gitmodules entry, committed without a checkout of the submodule.
        repo.write(".gitmodules", "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://example.com/lib.git\n");
        git(&repo.work, &["add", ".gitmodules"]);
        git(&repo.work, &["update-index", "--add", "--cacheinfo", &format!("160000,{c1},vendor/lib")]);
        git(&repo.work, &["commit", "-q", "-m", "submodule"]);
        let (c2, _) = push_and_sync(&fake, &app, &repo, false).await;
        let event = assert_exact(&app, &repo, sel, &c1, &c2).await;
        assert_eq!((event["method"].as_str(), event["fallback"].as_str()), (Some("tree_walk"), Some("submodule")));

        // A branch with a submodule keeps walking the tree, whatever the push touches.
        repo.write("a.txt", "a2\n");
        git(&repo.work, &["add", "a.txt"]);
        git(&repo.work, &["commit", "-q", "-m", "edit"]);
        let (c3, _) = push_and_sync(&fake, &app, &repo, false).await;
        let event = assert_exact(&app, &repo, sel, &c2, &c3).await;
        assert_eq!(event["fallback"].as_str(), Some("submodule"));
        assert_eq!(fake.requests(route::COMPARE), 0);
        app.stop().await;
    }
}

db_test! {
    async fn compare_can_be_turned_off(db) {
        let fake = FakeGithub::start().await;
        let repo = fake.create_repo(fake.add_installation("octo-org"), "off");
        repo.write("a.txt", "a\n");
        let c1 = repo.commit("one");
        repo.push("main");
        let app = synced::start(&fake, &db, &[("HUBSYNC_SYNC_COMPARE", "off")]).await;
        let sel = synced::install(&fake, &app, &repo).await.id;
        repo.write("a.txt", "a2\n");
        repo.commit("two");
        let (c2, _) = push_and_sync(&fake, &app, &repo, false).await;
        let event = assert_exact(&app, &repo, sel, &c1, &c2).await;
        assert_eq!((event["method"].as_str(), event["fallback"].as_str()), (Some("tree_walk"), Some("disabled")));
        assert_eq!(fake.requests(route::COMPARE), 0);
        app.stop().await;
    }
}
