//! The background work around webhooks under an organisation's steady traffic: the timed
//! reconcile keeps its schedule, and a failing repository lookup is not repeated per delivery.
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub, Fault},
        signing::github_signature,
        synced,
        webhooks::{fixture, new_delivery_id, SECRET},
        TestApp,
    },
};

const WAIT: Duration = Duration::from_secs(60);

/// A ping every 300 ms until `stop` is set, as a busy organisation's other repositories produce.
fn steady_traffic(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    let client = app.client.clone();
    let url = app.url("/webhooks/github");
    let body = fixture("ping");
    tokio::spawn(async move {
        let mut sent = 0;
        while !stop.load(Ordering::Relaxed) {
            let r = client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("X-GitHub-Event", "ping")
                .header("X-GitHub-Delivery", new_delivery_id())
                .header("X-Hub-Signature-256", github_signature(SECRET, &body))
                .body(body.clone())
                .send()
                .await
                .expect("ping sent");
            assert_eq!(r.status(), 202);
            sent += 1;
            // Load, not a wait: the pace of a busy organisation's other repositories.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        sent
    })
}

db_test! {
    async fn a_commit_without_a_webhook_is_synced_on_schedule_under_steady_traffic(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "quiet");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[("HUBSYNC_RECONCILE_SECS", "1")]).await;
        synced::install(&fake, &app, &repo).await;

        let stop = Arc::new(AtomicBool::new(false));
        let traffic = steady_traffic(&app, stop.clone());
        // GitHub never delivers this push; only the timed reconcile can notice it.
        repo.write("b.txt", "b\n");
        repo.commit("lost push");
        let push = repo.push("main");
        let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        stop.store(true, Ordering::Relaxed);
        let pings = traffic.await.unwrap();
        synced::assert_manifest_matches(&app.app.db, sel.id, &repo, "main", 10 << 20).await;
        eprintln!("{}: synced by the reconcile while {pings} pings arrived", db.engine);
        app.stop().await;
    }
}

db_test! {
    async fn a_failing_repository_lookup_is_not_repeated_for_every_delivery(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let hidden = fake.create_repo(inst, "hidden");
        hidden.write("a.txt", "a\n");
        hidden.commit("start");
        hidden.push("main");
        let app = synced::start(&fake, &db, &[]).await;
        // The installation lists the repository, but reading it answers 404 from then on.
        let installed = fake.installation_event(inst, "created");
        fake.remove_from_installation(inst, hidden.id);
        let r = installed.send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 202);
        fake.wait_requests(route::REPO_BY_ID, 1).await;

        // Deliveries keep arriving, one after the other.
        for _ in 0..10 {
            let id = app.deliver_fixture("ping", "ping").await;
            assert_eq!(app.processed(&id).await.status, "processed");
        }
        // A repository added afterwards is looked up (the pass runs), the failing one is not.
        let added = fake.create_repo(inst, "added");
        added.write("b.txt", "b\n");
        added.commit("start");
        added.push("main");
        let r = fake
            .installation_repositories_event(inst, "added", &[added.id])
            .send(&app.client, &app.url("/webhooks/github"), SECRET)
            .await;
        assert_eq!(r.status(), 202);
        synced::wait_synced(&app.app, added.id, "main", &added.head("main").unwrap(), WAIT).await;
        assert_eq!(
            fake.requests(route::REPO_BY_ID),
            2,
            "one lookup of the failing repository, one of the added one"
        );
        app.stop().await;
    }
}

db_test! {
    async fn a_failed_lookup_is_tried_again_once_its_backoff_is_over(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "flaky");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        let mut config = synced::config(&fake, &db, &[]);
        config.sync.lookup_retry = Duration::from_millis(300);
        let app = crate::support::spawn_app_with(config).await;
        // The first lookup fails; no delivery follows, yet the repository is synced.
        fake.inject(route::REPO_BY_ID, Fault::Status(404), 1);
        synced::install(&fake, &app, &repo).await;
        assert_eq!(fake.requests(route::REPO_BY_ID), 2);
        app.stop().await;
    }
}
