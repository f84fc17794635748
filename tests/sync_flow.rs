//! Syncing against the fake GitHub, end to end: webhooks in, GitHub requests out, the stored
//! manifest compared with git's own listing.
use std::time::{Duration, Instant};

use hubsync::store::entities::sync_runs;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub, Fault},
        synced::{self, assert_manifest_matches},
        webhooks::SECRET,
    },
};

const WAIT: Duration = Duration::from_secs(60);
const MAX: i64 = 10 * 1024 * 1024;

/// A repository of `n` files in nested directories, some binary.
fn fill(repo: &crate::support::fake_github::FakeRepo, n: usize) {
    for i in 0..n {
        let path = format!("src/mod{:02}/file{i:05}.txt", i % 40);
        if i % 50 == 0 {
            repo.write(
                &format!("assets/img{i}.bin"),
                (0..=255u8)
                    .cycle()
                    .skip(i % 256)
                    .take(300 + i)
                    .collect::<Vec<u8>>(),
            );
        } else {
            repo.write(&path, format!("line {i}\n").repeat(1 + i % 7));
        }
    }
}

async fn runs_of(db: &sea_orm::DatabaseConnection, sel: i64) -> Vec<sync_runs::Model> {
    sync_runs::Entity::find()
        .filter(sync_runs::Column::ProjectSyncId.eq(sel))
        .all(db)
        .await
        .unwrap()
}

db_test! {
    async fn install_then_push_syncs_exactly_what_changed(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "big");
        fill(&repo, 2000);
        repo.commit("2,000 files");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;

        let t = Instant::now();
        let sel = synced::install(&fake, &app, &repo).await;
        let first = t.elapsed();
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", MAX).await;
        // A first sync of a large branch reads the tarball, not one request per blob.
        assert_eq!(fake.requests(route::TARBALL), 1);
        assert_eq!(fake.requests(route::BLOB), 0, "every blob came from the tarball");
        eprintln!(
            "install of 2,000 files on {}: {:?}, requests: branch {} tree {} tarball {} blobs {} repo {}",
            db.engine, first, fake.requests(route::BRANCH), fake.requests(route::TREE),
            fake.requests(route::TARBALL), fake.requests(route::BLOB), fake.requests(route::REPO_BY_ID)
        );

        // A push touching 3 files: one branch lookup, one compare, the listings of the changed
        // files' directories (root, src, src/mod01, assets), three blobs, nothing else.
        fake.reset_counts();
        repo.write("src/mod01/file00001.txt", "changed\n");
        repo.write("src/new.txt", "new\n");
        repo.write("assets/added.bin", [0u8, 1, 2, 3, 255]);
        repo.remove("src/mod02/file00002.txt");
        repo.commit("3 changes and a deletion");
        let push = repo.push("main");
        let t = Instant::now();
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        let incremental = t.elapsed();
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", MAX).await;
        assert_eq!(fake.requests(route::COMPARE), 1);
        assert_eq!((fake.requests(route::TREE), fake.recursive_tree_requests()), (4, 0));
        assert_eq!(fake.requests(route::BLOB), 3);
        assert_eq!(fake.requests(route::BRANCH), 1);
        assert_eq!(fake.requests(route::TARBALL) + fake.requests(route::REPO), 0);
        let run = runs_of(&app.app.db, sel.id).await.into_iter().max_by_key(|r| r.id).unwrap();
        assert_eq!((run.status.as_str(), run.trigger.as_str()), ("succeeded", "push"));
        assert_eq!((run.files_total, run.files_changed, run.files_fetched), (2001, 4, 3));
        assert_eq!(run.api_requests, 9, "branch + compare + 4 listings + 3 blobs");
        eprintln!("push of 3 files on {}: {:?}, run {run:?}", db.engine, incremental);
    }
}

db_test! {
    async fn rapid_pushes_coalesce_and_a_force_push_goes_back(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "busy");
        fill(&repo, 50);
        let first = repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        let runs_before = runs_of(&app.app.db, sel.id).await.len();

        // 20 pushes in a burst: their deliveries arrive faster than runs finish.
        let mut pushes = Vec::new();
        for i in 0..20 {
            repo.write(&format!("burst/{i}.txt"), format!("{i}\n"));
            repo.commit(&format!("burst {i}"));
            pushes.push(repo.push("main"));
        }
        let last = pushes.last().unwrap().after.clone();
        for push in &pushes {
            fake.push_event(push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        }
        let sel = synced::wait_synced(&app.app, repo.id, "main", &last, WAIT).await;
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", MAX).await;
        let runs = runs_of(&app.app.db, sel.id).await.len() - runs_before;
        eprintln!("20 pushes on {} took {runs} runs", db.engine);
        assert!(runs <= 10, "20 rapid pushes should coalesce, took {runs} runs");

        // Force push back to the first commit: the manifest follows, nothing special needed.
        fake.reset_counts();
        repo.reset_hard(&first);
        let push = repo.force_push("main");
        assert!(push.forced);
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let sel = synced::wait_synced(&app.app, repo.id, "main", &first, WAIT).await;
        assert_manifest_matches(&app.app.db, sel.id, &repo, &first, MAX).await;
        assert_eq!(fake.requests(route::BLOB), 0, "every blob of the old commit is still stored");
    }
}

db_test! {
    async fn outages_are_survived_and_unselected_branches_cost_nothing(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "flaky");
        fill(&repo, 20);
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &repo).await;

        // 3 consecutive 502s on blobs: retried through.
        repo.write("a.txt", "a\n").write("b.txt", "b\n");
        repo.commit("two files");
        let push = repo.push("main");
        fake.inject(route::BLOB, Fault::Status(502), 3);
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", MAX).await;

        // A longer outage fails the attempt; the run is retried later and the branch keeps its
        // last good manifest meanwhile.
        repo.write("c.txt", "c\n");
        repo.commit("third");
        let push = repo.push("main");
        fake.inject(route::BRANCH, Fault::Status(503), 12);
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        let runs = runs_of(&app.app.db, sel.id).await;
        let last = runs.iter().max_by_key(|r| r.id).unwrap();
        assert!(last.attempt >= 2, "the run was retried: {last:?}");
        assert_eq!(last.status, "succeeded");

        // A push to a branch nobody selected: stored, processed, and not one GitHub request.
        fake.reset_counts();
        repo.checkout("feature/x");
        repo.write("f.txt", "f\n");
        repo.commit("feature");
        let push = repo.push("feature/x");
        let delivery = fake.push_event(&push);
        let r = delivery.send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 202);
        assert_eq!(app.processed(&delivery.delivery_id).await.status, "processed");
        assert_eq!(fake.total_requests(), 0);
        assert!(synced::selection(&app.app.db, repo.id, "feature/x").await.is_none());
    }
}

db_test! {
    async fn tricky_entries_come_out_right(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "tricky");
        repo.write("README.md", "hello\n");
        repo.write("bin/data.bin", [0u8, 159, 146, 150, 0, 255, 1]);
        repo.write("big.iso", vec![7u8; 5000]);
        repo.write("run.sh", "#!/bin/sh\necho hi\n");
        repo.write("empty.txt", "");
        std::os::unix::fs::symlink("README.md", repo.work.join("link-to-readme")).unwrap();
        let sub = "1111111111111111111111111111111111111111";
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git").arg("-C").arg(&repo.work).args(args).status().unwrap().success();
            assert!(ok, "git {args:?}");
        };
        git(&["add", "-A"]);
        git(&["update-index", "--add", "--cacheinfo", &format!("160000,{sub},vendor/lib")]);
        git(&["update-index", "--chmod=+x", "run.sh"]);
        repo.commit("every kind of entry");
        repo.push("main");
        let app = synced::start(&fake, &db, &[("HUBSYNC_MAX_FILE_SIZE", "1000"), ("HUBSYNC_TARBALL_THRESHOLD", "3")]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", 1000).await;
        let api = |path: String| app.client.get(app.url(&path)).bearer_auth(synced::ADMIN).send();
        let project = hubsync::store::selections::project_of_repository(&app.app.db, repo.id).await.unwrap().unwrap().id;
        let r = api(format!("/api/v1/projects/{project}/files/bin/data.bin")).await.unwrap();
        assert_eq!(r.bytes().await.unwrap().to_vec(), vec![0u8, 159, 146, 150, 0, 255, 1]);
        let r = api(format!("/api/v1/projects/{project}/files/link-to-readme")).await.unwrap();
        assert_eq!(r.headers()["x-hubsync-mode"], "120000");
        assert_eq!(r.bytes().await.unwrap().to_vec(), b"README.md");
        assert_eq!(api(format!("/api/v1/projects/{project}/files/big.iso")).await.unwrap().status(), 404);
        assert_eq!(api(format!("/api/v1/projects/{project}/files/vendor/lib")).await.unwrap().status(), 404);

        // A rename, a deletion and an empty commit: paths move, nothing is fetched.
        fake.reset_counts();
        std::fs::create_dir_all(repo.work.join("docs")).unwrap();
        git(&["mv", "README.md", "docs/README.md"]);
        repo.remove("run.sh");
        repo.commit("rename and delete");
        repo.commit("empty");
        let push = repo.push("main");
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", 1000).await;
        assert_eq!(fake.requests(route::BLOB) + fake.requests(route::TARBALL), 0);
    }
}
