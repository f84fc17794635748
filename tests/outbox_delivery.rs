//! Outgoing webhooks when things go wrong: a receiver that keeps failing is disabled (and shown
//! so) until re-enabled, a private address is refused at delivery time, a failed run is sent as
//! `sync.failed`, and a restart in the middle of a delivery loses nothing.

use serde_json::json;

use crate::{
    db_test,
    outbox_webhooks::{
        after_attempts, api, deliveries, push_and_wait, subscribe, wait_newest, WAIT,
    },
    support::{
        fake_github::{route, FakeGithub, Fault},
        receiver::{verify, Receiver, Reply},
        spawn_app_with,
        synced::{self, ADMIN},
        webhooks::SECRET,
    },
};

db_test! {
    async fn a_receiver_that_keeps_failing_is_disabled_until_re_enabled(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "flaky");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[
            ("HUBSYNC_OUTBOX_ALLOW_PRIVATE", "1"),
            ("HUBSYNC_OUTBOX_RETRY_BASE_SECS", "0.05"),
            ("HUBSYNC_OUTBOX_DISABLE_AFTER", "3"),
        ]).await;
        let mut receiver = Receiver::start().await;
        receiver.otherwise(Reply::Status(503));
        let (sub, secret) = subscribe(&app, &receiver.url, &["sync.succeeded"]).await;
        synced::install(&fake, &app, &repo).await;
        for _ in 0..3 {
            verify(&secret, &receiver.next(WAIT).await).unwrap();
        }
        // Disabled after the third failure in a row; the delivery stays pending.
        let view = after_attempts(&app, "the subscription is disabled", async || {
            let (_, v) = api(&app, reqwest::Method::GET, &format!("/subscriptions/{sub}"), None).await;
            (v["enabled"] == false).then_some(v)
        })
        .await;
        assert_eq!(view["consecutive_failures"], 3, "{view}");
        assert!(view["disabled_reason"].as_str().unwrap().contains("3 consecutive failed attempts"), "{view}");
        let d = &deliveries(&app, sub).await[0];
        assert_eq!((d["status"].as_str(), d["attempts"].as_i64()), (Some("pending"), Some(3)), "{d}");
        // The status page says so.
        let page = app.client.get(app.url("/")).bearer_auth(ADMIN).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Outgoing webhooks") && page.contains("data-state=\"disabled\""), "{page}");
        assert!(page.contains("3 consecutive failed attempts"));
        // A disabled subscription is not redelivered to, and its pending delivery waits.
        let id = d["id"].as_i64().unwrap();
        let (status, body) = api(&app, reqwest::Method::POST, &format!("/subscriptions/{sub}/deliveries/{id}/attempts"), None).await;
        assert_eq!(status, 409, "{body}");
        // A run while disabled writes nothing for it.
        repo.write("b.txt", "b\n");
        repo.commit("while disabled");
        push_and_wait(&fake, &app, &repo).await;
        assert_eq!(deliveries(&app, sub).await.len(), 1);

        // Re-enabled: the failures start again from zero and the pending delivery goes out.
        receiver.otherwise(Reply::Status(200));
        let (status, v) = api(&app, reqwest::Method::PATCH, &format!("/subscriptions/{sub}"), Some(json!({ "enabled": true }))).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!((v["enabled"].as_bool(), v["consecutive_failures"].as_i64()), (Some(true), Some(0)));
        assert!(v["disabled_reason"].is_null());
        let r = receiver.next(WAIT).await;
        verify(&secret, &r).unwrap();
        assert_eq!(r.reply, Reply::Status(200));
        let d = wait_newest(&app, sub, |d| d["status"] == "succeeded").await;
        assert_eq!(d["attempts"], 4);
        let page = app.client.get(app.url("/")).bearer_auth(ADMIN).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("data-state=\"enabled\""));
        app.stop().await;
        receiver.stop().await;
        fake.stop().await;
    }
}

db_test! {
    async fn a_private_address_is_refused_at_delivery_time_without_the_variable(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "guarded");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[("HUBSYNC_OUTBOX_RETRY_BASE_SECS", "60")]).await;
        let mut receiver = Receiver::start().await;
        // As if its name had resolved elsewhere when it was created: stored as it is.
        let new = hubsync::store::outbox::NewSubscription {
            url: receiver.url.clone(),
            project_id: None,
            events: vec![hubsync::store::outbox::EventType::SyncSucceeded],
            secret: hubsync::secret::SigningSecret::generate().unwrap(),
        };
        let sub = hubsync::store::outbox::create(&app.app.db, new).await.unwrap().id;
        synced::install(&fake, &app, &repo).await;
        let d = wait_newest(&app, sub, |d| d["attempts"] == 1).await;
        assert_eq!(d["status"], "pending", "retried later: {d}");
        assert!(d["status_code"].is_null(), "{d}");
        let error = d["error"].as_str().unwrap();
        assert!(error.contains("refused") && error.contains("HUBSYNC_OUTBOX_ALLOW_PRIVATE"), "{error}");
        assert!(receiver.drain().is_empty(), "nothing reached the private address");
        app.stop().await;
        receiver.stop().await;
        fake.stop().await;
    }
}

db_test! {
    async fn a_failed_run_is_sent_as_sync_failed(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "doomed");
        repo.write("a.txt", "a\n");
        let first = repo.commit("start");
        repo.push("main");
        let app = synced::start(&fake, &db, &[
            ("HUBSYNC_OUTBOX_ALLOW_PRIVATE", "1"),
            ("HUBSYNC_TARBALL_THRESHOLD", "1000"),
        ]).await;
        let mut receiver = Receiver::start().await;
        let (sub, secret) = subscribe(&app, &receiver.url, &["sync.failed"]).await;
        synced::install(&fake, &app, &repo).await;
        // Every blob refused for longer than a run waits: five attempts, then the run fails.
        repo.write("a.txt", "changed\n");
        repo.commit("doomed change");
        let push = repo.push("main");
        fake.inject(route::BLOB, Fault::SecondaryRateLimit { retry_after: 3600 }, 1000);
        fake.push_event(&push).send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        let r = receiver.next(WAIT).await;
        verify(&secret, &r).unwrap();
        let event = r.json();
        assert_eq!(event["type"], "sync.failed", "only what was subscribed to: {event}");
        let data = &event["data"];
        assert_eq!(data["commit_sha"], push.after.as_str());
        assert_eq!(data["previous_sha"], first.as_str());
        assert!(data["changes_cursor"].is_null(), "{event}");
        assert!(data["error"].as_str().unwrap().contains("rate limit"), "{event}");
        assert_eq!(data["counts"], json!({ "added": 0, "modified": 0, "deleted": 0, "renamed": 0 }));
        wait_newest(&app, sub, |d| d["status"] == "succeeded" && d["type"] == "sync.failed").await;
        assert_eq!(deliveries(&app, sub).await.len(), 1, "the successful first sync was not subscribed to");
        app.stop().await;
        receiver.stop().await;
        fake.stop().await;
    }
}

db_test! {
    async fn a_restart_in_the_middle_of_a_delivery_loses_nothing(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "restarted");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        let extra = [("HUBSYNC_OUTBOX_ALLOW_PRIVATE", "1"), ("HUBSYNC_OUTBOX_TIMEOUT_SECS", "120")];
        let app = synced::start(&fake, &db, &extra).await;
        let mut receiver = Receiver::start().await;
        receiver.answer(&[Reply::Hang]);
        let (sub, secret) = subscribe(&app, &receiver.url, &["sync.succeeded"]).await;
        synced::install(&fake, &app, &repo).await;
        let hung = receiver.next(WAIT).await;
        assert_eq!(hung.reply, Reply::Hang);
        // Stopped while the receiver holds the request: the delivery is handed back, not lost
        // (nor left to a two-minute lease).
        app.stop().await;
        let app = spawn_app_with(synced::config(&fake, &db, &extra)).await;
        let r = receiver.next(WAIT).await;
        verify(&secret, &r).unwrap();
        assert_eq!((&r.id, &r.body), (&hung.id, &hung.body), "the same message");
        let d = wait_newest(&app, sub, |d| d["status"] == "succeeded").await;
        assert_eq!(d["attempts"], 1, "the interrupted attempt is not counted: {d}");
        app.stop().await;
        receiver.stop().await;
        fake.stop().await;
    }
}
