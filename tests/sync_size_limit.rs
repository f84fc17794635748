//! `HUBSYNC_MAX_FILE_SIZE` changed between starts: files skipped as too large are fetched once
//! the limit allows them, and a lower limit never deletes content already stored unless the
//! operator runs `hubsync purge-oversized --apply`.
use std::time::Duration;

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub},
        hubsync_bin,
        synced::{self, assert_manifest_matches},
        wait::{self, Observed},
        webhooks::SECRET,
        TestApp,
    },
};
use hubsync::store::manifests;

const WAIT: Duration = Duration::from_secs(60);

async fn file(app: &TestApp, project: i64, path: &str) -> (u16, Vec<u8>) {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/projects/{project}/files/{path}")))
        .bearer_auth(synced::ADMIN)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// Waits until the blob `sha` has its content stored (by a run: looks again after each event).
async fn wait_stored(app: &impl Observed, sha: &str) {
    let mut events = app.events();
    wait::until_true(&format!("blob {sha} fetched"), &mut events, async || {
        let blob = manifests::blob(app.db(), sha).await.unwrap();
        blob.is_some_and(|b| b.content.is_some())
    })
    .await
}

db_test! {
    async fn raising_the_limit_fetches_skipped_files_and_lowering_it_keeps_them(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "assets");
        let big = vec![b'b'; 5_000];
        let huge = vec![b'h'; 20_000];
        repo.write("small.txt", "small\n").write("big.bin", &big).write("huge.bin", &huge);
        repo.commit("three sizes");
        repo.push("main");
        let listing = synced::ls_tree(&repo, "main");
        let big_sha = listing["big.bin"].1.clone();

        let app = synced::start(&fake, &db, &[("HUBSYNC_MAX_FILE_SIZE", "1000")]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        let project = sel.project_id;
        assert_eq!(file(&app, project, "big.bin").await.0, 404, "over the limit: listed only");
        app.stop().await;

        // Restarted with a higher limit and no push: the start-up fetches what is now allowed.
        fake.reset_counts();
        let app = synced::start(&fake, &db, &[("HUBSYNC_MAX_FILE_SIZE", "10000")]).await;
        wait_stored(&app.app, &big_sha).await;
        assert_eq!(file(&app, project, "big.bin").await, (200, big.clone()));
        assert_eq!(file(&app, project, "huge.bin").await.0, 404, "still over the limit");
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", 10_000).await;
        assert_eq!(fake.requests(route::BLOB) + fake.requests(route::TARBALL), 1, "only big.bin");
        app.stop().await;

        // A lower limit: the next sync keeps every byte already stored.
        let app = synced::start(&fake, &db, &[("HUBSYNC_MAX_FILE_SIZE", "100")]).await;
        repo.write("small.txt", "changed\n");
        repo.commit("a small change");
        let push = repo.push("main");
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        assert_eq!(file(&app, project, "big.bin").await, (200, big.clone()));
        assert_eq!(file(&app, project, "small.txt").await, (200, b"changed\n".to_vec()));
        app.stop().await;

        // Only when the operator asks is content over the lower limit removed.
        let report = purge(&db.url, "100", false);
        assert!(report.contains("1 stored file(s), 5000 bytes"), "{report}");
        let app = synced::start(&fake, &db, &[("HUBSYNC_MAX_FILE_SIZE", "100")]).await;
        assert_eq!(file(&app, project, "big.bin").await, (200, big.clone()), "a report removes nothing");
        app.stop().await;
        let report = purge(&db.url, "100", true);
        assert!(report.contains("removed the content of 1 stored file(s), 5000 bytes"), "{report}");
        assert_eq!(purge(&db.url, "100", true).split(',').next(), Some("removed the content of 0 stored file(s)"));
        let app = synced::start(&fake, &db, &[("HUBSYNC_MAX_FILE_SIZE", "100")]).await;
        assert_eq!(file(&app, project, "big.bin").await.0, 404, "purged: listed only");
        assert_eq!(file(&app, project, "small.txt").await, (200, b"changed\n".to_vec()));
        app.stop().await;

        // Raising the limit again brings it back.
        let app = synced::start(&fake, &db, &[("HUBSYNC_MAX_FILE_SIZE", "10000")]).await;
        wait_stored(&app.app, &big_sha).await;
        assert_eq!(file(&app, project, "big.bin").await, (200, big));
        app.stop().await;
    }
}

/// Runs `hubsync purge-oversized` on the database and returns what it printed.
fn purge(url: &str, max: &str, apply: bool) -> String {
    let mut cmd = hubsync_bin();
    cmd.arg("purge-oversized")
        .env("DATABASE_URL", url)
        .env("HUBSYNC_MAX_FILE_SIZE", max);
    if apply {
        cmd.arg("--apply");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "purge-oversized failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
