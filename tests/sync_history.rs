//! Runs as users read them afterwards and live: a failed run keeps what it reached and every
//! attempt's error, a `create` is labelled `create`, live events carry the from-sha.
use std::time::Duration;

use hubsync::{
    git::{BranchName, Sha},
    progress::ProgressEvent,
    store::{entities::sync_runs, selections},
    sync::intake::{signal, AutoSelect, SyncSignal},
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub, Fault},
        seed, spawn_app,
        sse::SseStream,
        synced, wait,
        webhooks::SECRET,
    },
};

const WAIT: Duration = Duration::from_secs(60);

async fn latest_run(db: &DatabaseConnection, sel: i64) -> sync_runs::Model {
    sync_runs::Entity::find()
        .filter(sync_runs::Column::ProjectSyncId.eq(sel))
        .order_by_desc(sync_runs::Column::Id)
        .one(db)
        .await
        .unwrap()
        .expect("a run")
}

db_test! {
    async fn a_failed_run_keeps_its_from_sha_counts_duration_and_each_attempts_error(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "doomed");
        for i in 0..10 {
            repo.write(&format!("f{i}.txt"), format!("{i}\n"));
        }
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[("HUBSYNC_TARBALL_THRESHOLD", "1000")]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        let first = sel.last_synced_sha.clone().unwrap();

        // Every blob request is refused with a rate limit far longer than a run waits: each
        // attempt reads the branch and the tree, then fails on the blobs.
        for i in 0..3 {
            repo.write(&format!("f{i}.txt"), format!("changed {i}\n"));
        }
        repo.commit("three changes");
        let push = repo.push("main");
        fake.inject(route::BLOB, Fault::SecondaryRateLimit { retry_after: 3600 }, 1000);
        let mut events = app.app.hub.subscribe();
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        wait::event("the run fails for good", &mut events, |e| matches!(e, ProgressEvent::Failed { will_retry: false, .. })).await;
        let run = latest_run(&app.app.db, sel.id).await;
        assert_eq!(run.status, "failed", "{run:?}");
        assert_eq!(run.attempt, 5);
        assert_eq!(run.from_sha.as_deref(), Some(first.as_str()), "{run:?}");
        assert_eq!(run.target_sha.as_deref(), Some(push.after.as_str()), "{run:?}");
        assert_eq!((run.files_total, run.files_changed), (10, 3), "{run:?}");
        assert!(run.api_requests >= 5 * 3, "branch, tree and a blob per attempt: {run:?}");

        let r = app
            .client
            .get(app.url(&format!("/api/v1/projects/{}/syncs?branch=main", sel.project_id)))
            .bearer_auth(synced::ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let view = &body["runs"][0];
        assert_eq!(view["id"], run.id);
        let attempts = view["attempts"].as_array().expect("attempts listed");
        assert_eq!(attempts.len(), 5, "{view}");
        for (n, a) in attempts.iter().enumerate() {
            assert_eq!(a["attempt"], n + 1, "{a}");
            assert_eq!(a["status"], "failed", "{a}");
            assert!(a["error"].as_str().unwrap().contains("rate limit"), "{a}");
        }
        let requests: i64 = attempts.iter().map(|a| a["api_requests"].as_i64().unwrap()).sum();
        assert_eq!(requests, run.api_requests, "the run's requests are its attempts' sum");
        // The duration runs from the first attempt's start, waits between attempts included.
        assert_eq!(view["started_at"], attempts[0]["started_at"], "{view}");
        let retry_waits_ms = 200 + 400 + 800 + 1600;
        assert!(view["duration_ms"].as_i64().unwrap() >= retry_waits_ms, "{view}");
        app.stop().await;
    }
}

db_test! {
    async fn a_branch_created_on_github_is_synced_by_a_create_run(db) {
        let app = spawn_app(&db).await;
        let conn = &app.app.db;
        let project = seed::project(conn, "octo-org/hello").await;
        let wanted = [hubsync::git::Selector::parse("release/*").unwrap()];
        selections::set_selection(conn, project, &wanted).await.unwrap();
        let branch = BranchName::parse("release/1").unwrap();
        let head = Sha::parse(&"a".repeat(40)).unwrap();
        let created = SyncSignal::BranchCreated { repository_id: 100, branch, head: Some(head) };
        signal(conn, AutoSelect::DefaultBranch, created).await.unwrap();
        let sel = selections::selections(conn, project)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.branch == "release/1")
            .expect("the pattern selected the new branch");
        let run = latest_run(conn, sel.id).await;
        assert_eq!((run.trigger.as_str(), run.status.as_str()), ("create", "queued"));
        app.stop().await;
    }
}

db_test! {
    async fn live_run_events_carry_the_from_sha_like_the_stored_run(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "live");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        let sel = synced::install(&fake, &app, &repo).await;
        let first = sel.last_synced_sha.clone().unwrap();
        let url = app.url(&format!("/projects/{}/events", sel.project_id));
        let mut events = SseStream::new(SseStream::connect(&app.client, &url, synced::ADMIN, None).await);
        events.expect("snapshot", WAIT).await;

        repo.write("b.txt", "b\n");
        repo.commit("second");
        let push = repo.push("main");
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let mut seen = Vec::new();
        for kind in ["queued", "started", "succeeded"] {
            let ev = events.expect(kind, WAIT).await.json();
            assert_eq!(ev["from_sha"], json!(first), "{kind}: {ev}");
            seen.push(ev);
        }
        let run = latest_run(&app.app.db, sel.id).await;
        assert_eq!(seen[2]["run_id"], run.id);
        assert_eq!(run.from_sha.as_deref(), Some(first.as_str()));
        app.stop().await;
    }
}
