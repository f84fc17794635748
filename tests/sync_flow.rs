//! Syncing against the fake GitHub, end to end: webhooks in, GitHub requests out, the stored
//! manifest compared with git's own listing.
use std::time::{Duration, Instant};

use hubsync::store::entities::sync_runs;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub},
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

        // A push touching 3 files: one branch lookup, one tree, three blobs, nothing else.
        fake.reset_counts();
        repo.write("src/mod01/file00001.txt", "changed\n");
        repo.write("src/new.txt", "new\n");
        repo.write("assets/added.bin", [0u8, 1, 2, 3, 255]);
        repo.remove("src/mod02/file00002.txt");
        repo.commit("3 changes and a deletion");
        let push = repo.push("main");
        let t = Instant::now();
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let sel = synced::wait_synced(&app.app.db, repo.id, "main", &push.after, WAIT).await;
        let incremental = t.elapsed();
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", MAX).await;
        assert_eq!(fake.requests(route::TREE), 1);
        assert_eq!(fake.requests(route::BLOB), 3);
        assert_eq!(fake.requests(route::BRANCH), 1);
        assert_eq!(fake.requests(route::TARBALL) + fake.requests(route::REPO) + fake.requests(route::COMPARE), 0);
        let run = runs_of(&app.app.db, sel.id).await.into_iter().max_by_key(|r| r.id).unwrap();
        assert_eq!((run.status.as_str(), run.trigger.as_str()), ("succeeded", "push"));
        assert_eq!((run.files_total, run.files_changed, run.files_fetched), (2001, 4, 3));
        assert_eq!(run.api_requests, 5, "branch + tree + 3 blobs");
        eprintln!("push of 3 files on {}: {:?}, run {run:?}", db.engine, incremental);
    }
}
