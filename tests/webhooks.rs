//! The webhook receiver over HTTP: every status code, duplicates, crash recovery, ordering,
//! bounded retries and several processes on one database.
use hubsync::store::entities::{deliveries, installations};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;

use crate::{
    db_test,
    support::{
        signing::github_signature,
        spawn_app, spawn_app_with,
        webhooks::{fixture, new_delivery_id, webhook_config, SECRET},
        TestApp,
    },
};

async fn error_of(r: reqwest::Response) -> String {
    let body: Value = r.json().await.expect("a JSON error body");
    body["error"].as_str().expect("an error string").to_owned()
}

/// A request with every header set right, except those given (an empty value drops one).
fn spoiled(app: &TestApp, body: &[u8], overrides: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let signature = github_signature(SECRET, body);
    let delivery = new_delivery_id();
    let mut req = app
        .client
        .post(app.url("/webhooks/github"))
        .body(body.to_vec());
    for (name, value) in [
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "ping"),
        ("X-GitHub-Delivery", delivery.as_str()),
        ("X-Hub-Signature-256", signature.as_str()),
    ] {
        let value = overrides
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(value, |(_, v)| v);
        if !value.is_empty() {
            req = req.header(name, value);
        }
    }
    req
}

fn request(app: &TestApp, body: &[u8]) -> reqwest::RequestBuilder {
    spoiled(app, body, &[])
}

async fn stored(app: &TestApp) -> u64 {
    deliveries::Entity::find().count(&app.app.db).await.unwrap()
}

db_test! {
    async fn every_refusal_has_its_status_and_a_json_reason(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let ping = fixture("ping");
        let altered = b"{\"zen\":\"Design for success.\"}".to_vec();
        let wrong_secret = github_signature("not-the-secret", &ping);
        let sha1 = github_signature(SECRET, &ping).replace("sha256=", "sha1=");
        let sig = "X-Hub-Signature-256";
        let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
            ("no signature", spoiled(&app, &ping, &[(sig, "")]), 401, "missing X-Hub-Signature-256"),
            ("wrong secret", spoiled(&app, &ping, &[(sig, &wrong_secret)]), 401, "does not match"),
            ("sha1 prefix", spoiled(&app, &ping, &[(sig, &sha1)]), 401, "sha256="),
            ("not hex", spoiled(&app, &ping, &[(sig, "sha256=nothex")]), 401, "64 hex digits"),
            ("body altered", spoiled(&app, &ping, &[]).body(altered), 401, "does not match"),
            ("form encoded", spoiled(&app, &ping, &[("Content-Type", "application/x-www-form-urlencoded")]), 415, "application/json"),
            ("no content type", spoiled(&app, &ping, &[("Content-Type", "")]), 415, "application/json"),
            ("no event", spoiled(&app, &ping, &[("X-GitHub-Event", "")]), 400, "X-GitHub-Event"),
            ("no delivery", spoiled(&app, &ping, &[("X-GitHub-Delivery", "")]), 400, "X-GitHub-Delivery"),
            ("bad delivery id", spoiled(&app, &ping, &[("X-GitHub-Delivery", "../etc/passwd")]), 400, "X-GitHub-Delivery"),
            ("bad event name", spoiled(&app, &ping, &[("X-GitHub-Event", "Push Event")]), 400, "X-GitHub-Event"),
        ];
        for (what, req, status, needle) in cases {
            let r = req.send().await.unwrap();
            assert_eq!(r.status().as_u16(), status, "{what}");
            let error = error_of(r).await;
            assert!(error.contains(needle), "{what}: {error}");
        }
        // GitHub's documented test vector passes verification (then fails as JSON: it is text).
        let vector = spawn_app_with(crate::support::test_config(&db, &[("GITHUB_WEBHOOK_SECRET", "It's a Secret to Everybody")])).await;
        let r = vector.client.post(vector.url("/webhooks/github"))
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "ping")
            .header("X-GitHub-Delivery", new_delivery_id())
            .header("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
            .body("Hello, World!")
            .send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(error_of(r).await.contains("not valid JSON"));
        vector.stop().await;
        assert_eq!(stored(&app).await, 0, "nothing refused is stored");

        // A correctly signed, well-formed delivery is accepted.
        let r = request(&app, &ping).send().await.unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(stored(&app).await, 1);
        app.stop().await;
    }
}

db_test! {
    async fn without_a_secret_webhooks_are_unavailable(db) {
        let app = spawn_app(&db).await;
        let r = request(&app, &fixture("ping")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert!(error_of(r).await.contains("GITHUB_WEBHOOK_SECRET"));
        app.stop().await;
    }
}

db_test! {
    async fn a_rotated_secret_list_accepts_each_secret(db) {
        let app = spawn_app_with(crate::support::test_config(&db, &[("GITHUB_WEBHOOK_SECRET", "old-webhook-secret-of-hubsync,new-webhook-secret-of-hubsync")])).await;
        for secret in ["old-webhook-secret-of-hubsync", "new-webhook-secret-of-hubsync"] {
            let body = fixture("ping");
            let r = spoiled(&app, &body, &[("X-Hub-Signature-256", &github_signature(secret, &body))]).send().await.unwrap();
            assert_eq!(r.status(), 202, "{secret}");
        }
        app.stop().await;
    }
}

db_test! {
    async fn a_body_over_the_limit_is_413_and_the_limit_is_configurable(db) {
        let app = spawn_app_with(webhook_config(&db, &[("HUBSYNC_WEBHOOK_MAX_BYTES", "1000")])).await;
        let mut body = fixture("push");
        let r = request(&app, &body).send().await.unwrap();
        assert_eq!(r.status(), 413, "the push fixture is over 1000 bytes");
        assert!(error_of(r).await.contains("1000 bytes"));
        body.truncate(0);
        body.extend_from_slice(br#"{"zen":"small"}"#);
        assert_eq!(request(&app, &body).send().await.unwrap().status(), 202);
        app.stop().await;
    }
}

db_test! {
    async fn a_redelivery_is_acknowledged_once_and_has_no_second_effect(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let id = new_delivery_id();
        let body = fixture("installation.created");
        let r = app.deliver("installation", &id, &body).await;
        assert_eq!(r.status(), 202);
        let first = app.processed(&id).await;
        assert_eq!(first.status, "processed");
        for _ in 0..3 {
            let r = app.deliver("installation", &id, &body).await;
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["status"], "duplicate");
        }
        assert_eq!(stored(&app).await, 1);
        let again = app.delivery(&id).await.unwrap();
        assert_eq!(again.attempts, 1, "processed exactly once");
        assert_eq!(again.processed_at, first.processed_at);
        app.stop().await;
    }
}

db_test! {
    async fn concurrent_copies_of_a_delivery_are_stored_once(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let id = new_delivery_id();
        let body = fixture("push");
        let sends = (0..16).map(|_| app.deliver("push", &id, &body));
        let statuses: Vec<u16> = futures_util::future::join_all(sends).await.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 15, "{statuses:?}");
        assert_eq!(stored(&app).await, 1);
        app.stop().await;
    }
}

db_test! {
    async fn a_delivery_stored_but_not_processed_is_processed_after_restart(db) {
        // The first process stores deliveries and stops (or dies) before processing them.
        let app = spawn_app_with(webhook_config(&db, &[("HUBSYNC_WEBHOOK_PROCESSING", "off")])).await;
        let install = app.deliver_fixture("installation", "installation.created").await;
        let push = app.deliver_fixture("push", "push").await;
        assert_eq!(app.app.activity.webhooks.count(), 0, "no processor runs");
        assert_eq!(app.delivery(&install).await.unwrap().status, "received");
        assert_eq!(installations::Entity::find().count(&app.app.db).await.unwrap(), 0);
        app.stop().await;

        let app = spawn_app_with(webhook_config(&db, &[])).await;
        assert_eq!(app.processed(&install).await.status, "processed");
        assert_eq!(app.processed(&push).await.status, "processed");
        assert!(installations::Entity::find_by_id(42).one(&app.app.db).await.unwrap().is_some());
        app.stop().await;
    }
}

db_test! {
    async fn deliveries_of_an_installation_are_processed_in_order(db) {
        let app = spawn_app_with(webhook_config(&db, &[("HUBSYNC_WEBHOOK_PROCESSING", "off")])).await;
        let mut ids = vec![app.deliver_fixture("installation", "installation.created").await];
        for _ in 0..5 {
            ids.push(app.deliver_fixture("installation", "installation.suspend").await);
            ids.push(app.deliver_fixture("installation", "installation.unsuspend").await);
        }
        app.stop().await;
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        let mut last = None;
        for id in &ids {
            let d = app.processed(id).await;
            assert_eq!(d.status, "processed", "{:?}", d.error);
            assert!(last <= d.processed_at, "processed out of order");
            last = d.processed_at;
        }
        let inst = installations::Entity::find_by_id(42).one(&app.app.db).await.unwrap().unwrap();
        assert_eq!(inst.suspended_at, None, "the last event (unsuspend) wins");
        app.stop().await;
    }
}

db_test! {
    async fn a_delivery_that_keeps_failing_is_retried_then_marked_failed(db) {
        let app = spawn_app_with(webhook_config(&db, &[("HUBSYNC_WEBHOOK_MAX_ATTEMPTS", "3")])).await;
        // A push for an installation hubsync has never seen cannot be applied.
        let d = app.apply("push", "push", "failed").await;
        assert_eq!(d.attempts, 3);
        assert!(d.error.as_deref().unwrap_or_default().contains("installation 42 is not known"), "{:?}", d.error);
        // The service keeps going: the installation arrives and the next push is processed.
        app.apply("installation", "installation.created", "processed").await;
        app.apply("push", "push", "processed").await;
        app.stop().await;
    }
}

db_test! {
    async fn a_delivery_waiting_for_a_retry_holds_back_its_installation_only(db) {
        let app = spawn_app_with(webhook_config(&db, &[("HUBSYNC_WEBHOOK_MAX_ATTEMPTS", "50"), ("HUBSYNC_WEBHOOK_RETRY_MS", "100")])).await;
        // A push for an installation hubsync has not recorded fails and waits for a retry.
        let push = app.deliver_fixture("push", "push").await;
        let waiting = app.attempted(&push, |d| d.attempts > 0).await;
        assert_eq!(waiting.status, "received");
        assert!(waiting.error.is_some() && waiting.not_before.is_some());

        // The next delivery of that installation waits behind it; others go ahead.
        let later = app.deliver_fixture("repository", "repository.edited").await;
        // The pass that handled the ping walked past `later` (stored first) and left it.
        app.apply("ping", "ping", "processed").await;
        let held = app.delivery(&later).await.unwrap();
        assert_eq!((held.status.as_str(), held.attempts), ("received", 0), "not tried ahead of the earlier delivery");

        // Once the cause clears (here, out of band), both go through, in order.
        hubsync::store::installations::upsert(&app.app.db, hubsync::store::installations::InstallationFacts {
            id: 42,
            account_login: "octo-org".into(),
            account_id: 9919,
            account_type: "Organization".into(),
            repository_selection: None,
            suspended_at: None,
        }, chrono::Utc::now()).await.unwrap();
        let p = app.processed(&push).await;
        assert_eq!((p.status.as_str(), p.error.as_deref()), ("processed", None));
        assert!(p.attempts >= 2);
        let l = app.processed(&later).await;
        assert_eq!(l.status, "processed", "{:?}", l.error);
        assert!(p.processed_at <= l.processed_at);
        app.stop().await;
    }
}

db_test! {
    async fn several_processes_on_one_database_process_each_delivery_once(db) {
        let a = spawn_app_with(webhook_config(&db, &[])).await;
        let b = spawn_app_with(webhook_config(&db, &[])).await;
        a.apply("installation", "installation.created", "processed").await;
        let mut ids = Vec::new();
        for i in 0..40 {
            let app = if i % 2 == 0 { &a } else { &b };
            let (event, name) = if i % 3 == 0 { ("repository", "repository.edited") } else { ("push", "push") };
            ids.push(app.deliver_fixture(event, name).await);
        }
        for id in &ids {
            let d = a.processed(id).await;
            assert_eq!(d.status, "processed", "{:?}", d.error);
            assert_eq!(d.attempts, 1, "delivery {id} was claimed twice");
        }
        a.stop().await;
        b.stop().await;
    }
}

db_test! {
    async fn a_failure_among_deliveries_handled_together_holds_back_only_its_installation(db) {
        // Stored while processing is off, then handled in one pass: on PostgreSQL in one
        // transaction.
        let app = spawn_app_with(webhook_config(&db, &[("HUBSYNC_WEBHOOK_PROCESSING", "off")])).await;
        let ping = app.deliver_fixture("ping", "ping").await;
        let push = app.deliver_fixture("push", "push").await;
        let later = app.deliver_fixture("repository", "repository.edited").await;
        app.stop().await;

        let app = spawn_app_with(webhook_config(&db, &[("HUBSYNC_WEBHOOK_MAX_ATTEMPTS", "50"), ("HUBSYNC_WEBHOOK_RETRY_MS", "60000")])).await;
        // The push's installation is unknown: it fails and waits for a retry a minute away.
        // The chunk goes without savepoints first; the failure rolls it back and it is handled
        // again with them, so the delivery before the failure is processed and counted once.
        let ping = app.processed(&ping).await;
        assert_eq!((ping.status.as_str(), ping.attempts), ("processed", 1));
        let failed = app.delivery(&push).await.unwrap();
        assert_eq!((failed.status.as_str(), failed.attempts), ("received", 1));
        assert!(failed.error.as_deref().unwrap_or_default().contains("installation 42 is not known"), "{:?}", failed.error);
        let held = app.delivery(&later).await.unwrap();
        assert_eq!((held.status.as_str(), held.attempts), ("received", 0), "not tried ahead of the earlier delivery");
        app.stop().await;
    }
}
