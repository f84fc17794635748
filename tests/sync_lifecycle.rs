//! What happens around syncs: a worker killed mid-run, a missed webhook, branches deleted,
//! repositories removed.
use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

use hubsync::{progress::ProgressEvent, store::entities::sync_runs};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub, Fault},
        hubsync_bin,
        synced::{self, assert_manifest_matches},
        wait::{self, Observed, Watcher},
        webhooks::SECRET,
    },
};

const WAIT: Duration = Duration::from_secs(60);
const MAX: i64 = 10 * 1024 * 1024;

db_test! {
    async fn a_run_killed_mid_way_finishes_after_restart(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "crashy");
        for i in 0..40 {
            repo.write(&format!("f{i}.txt"), format!("{i}\n"));
        }
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        app.stop().await;
        let conn = hubsync::store::connect(&hubsync::store::DatabaseUrl::parse(&db.url).unwrap()).await.unwrap();
        let watch = Watcher::start(&conn).await;

        for i in 0..30 {
            repo.write(&format!("f{i}.txt"), format!("changed {i}\n"));
        }
        repo.commit("30 changes");
        let push = repo.push("main");
        let blobs_before_push = fake.requests(route::BLOB);
        // Slow blobs, so the run is surely in flight when its process dies.
        fake.inject(route::BLOB, Fault::Latency(Duration::from_millis(400)), 1000);

        // The real binary, on the same database, killed with SIGKILL mid-run: no clean-up at all.
        let mut child = hubsync_bin();
        for (k, v) in fake.app_env() {
            child.env(k, v);
        }
        let mut child = child
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", &db.url)
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("HUBSYNC_LOG_FORMAT", "json")
            .env("HUBSYNC_RECONCILE_SECS", "0")
            .env("HUBSYNC_TARBALL_THRESHOLD", "1000")
            .env("HUBSYNC_SYNC_LEASE_SECS", "3")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let addr = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines();
            let addr = loop {
                let line = lines.next().expect("a 'listening' line").unwrap();
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if v["message"] == "listening" {
                    break v["addr"].as_str().unwrap().to_owned();
                }
            };
            std::thread::spawn(move || lines.for_each(drop));
            addr
        })
        .await
        .unwrap();
        let client = reqwest::Client::new();
        let r = fake.push_event(&push).send(&client, &format!("http://{addr}/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 202);

        let mut signals = (watch.events(), fake.arrivals());
        let started = wait::until("the child starts the run", &mut signals, async || {
            let running = sync_runs::Entity::find()
                .filter(sync_runs::Column::ProjectSyncId.eq(sel.id))
                .filter(sync_runs::Column::Status.eq("running"))
                .one(&conn)
                .await;
            running.ok().flatten().filter(|_| fake.requests(route::BLOB) >= blobs_before_push + 8)
        })
        .await;
        child.kill().unwrap();
        child.wait().unwrap();
        let fetched_before = fake.requests(route::BLOB);

        // A fresh start takes the run over once its lease expires, and finishes it.
        let app = synced::start(&fake, &db, &[("HUBSYNC_SYNC_LEASE_SECS", "3")]).await;
        let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", MAX).await;
        let run = sync_runs::Entity::find_by_id(started.id).one(&app.app.db).await.unwrap().unwrap();
        assert_eq!(run.status, "succeeded");
        assert_eq!(run.attempt, 2, "taken over after the crash");
        let tries = hubsync::store::attempts::of_runs(&app.app.db, &[run.id]).await.unwrap();
        let statuses: Vec<&str> = tries[&run.id].iter().map(|a| a.status.as_str()).collect();
        assert_eq!(statuses, ["abandoned", "succeeded"], "the killed attempt is on record");
        eprintln!("blobs fetched before the kill: {fetched_before}, after: {}", fake.requests(route::BLOB) - fetched_before);
    }
}

db_test! {
    async fn a_missed_webhook_heals_at_the_next_reconcile(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "quiet");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &repo).await;
        app.stop().await;

        // GitHub's delivery of this push never arrives.
        repo.write("b.txt", "b\n");
        repo.commit("lost push");
        let push = repo.push("main");
        let app = synced::start(&fake, &db, &[("HUBSYNC_RECONCILE_SECS", "3600")]).await;
        let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        assert_manifest_matches(&app.app.db, sel.id, &repo, "main", MAX).await;
        let runs = sync_runs::Entity::find().filter(sync_runs::Column::ProjectSyncId.eq(sel.id)).all(&app.app.db).await.unwrap();
        assert!(runs.iter().any(|r| r.trigger == "reconcile" && r.status == "succeeded"));
    }
}

db_test! {
    async fn deleted_branches_and_removed_repositories_keep_their_data(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "keep");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        repo.checkout("feature");
        repo.write("f.txt", "f\n");
        repo.commit("feature");
        let feature_push = repo.push("feature");
        let app = synced::start(&fake, &db, &[]).await;
        synced::install(&fake, &app, &repo).await;
        let project = hubsync::store::selections::project_of_repository(&app.app.db, repo.id).await.unwrap().unwrap().id;
        let api = |m: reqwest::Method, path: String| app.client.request(m, app.url(&path)).bearer_auth(synced::ADMIN);
        let r = api(reqwest::Method::PUT, format!("/api/v1/projects/{project}/branches"))
            .json(&serde_json::json!({ "branches": ["main", "feature"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        synced::wait_synced(&app.app, repo.id, "feature", &feature_push.after, WAIT).await;

        // The branch is deleted on GitHub: selection and manifest stay, marked deleted.
        let deleted = repo.delete_branch("feature");
        let mut events = app.app.hub.subscribe();
        fake.branch_event(&deleted).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        wait::event("feature marked deleted", &mut events, |e| *e == ProgressEvent::branch_deleted(hubsync::git::BranchName::parse("feature").unwrap())).await;
        let sel = synced::selection(&app.app.db, repo.id, "feature").await.unwrap();
        assert!(sel.deleted_at.is_some(), "{sel:?}");
        let files: serde_json::Value = api(reqwest::Method::GET, format!("/api/v1/projects/{project}/files?branch=feature"))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(files["deleted"], true);
        assert_eq!(files["files"].as_array().unwrap().len(), 2, "the manifest is kept");

        // The repository is removed from the installation: syncing stops, data stays.
        fake.remove_from_installation(inst, repo.id);
        let r = fake.installation_repositories_event(inst, "removed", &[repo.id]).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 202);
        let mut passes = app.app.activity.webhooks.watch();
        wait::until_true("the project stops", &mut passes, async || {
            let p: serde_json::Value = api(reqwest::Method::GET, format!("/api/v1/projects/{project}")).send().await.unwrap().json().await.unwrap();
            p["stopped"].is_string()
        })
        .await;
        let r = api(reqwest::Method::POST, format!("/api/v1/projects/{project}/syncs")).send().await.unwrap();
        assert_eq!(r.status(), 409);
        let r = api(reqwest::Method::GET, format!("/api/v1/projects/{project}/files/a.txt")).send().await.unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), b"a\n");
    }
}
