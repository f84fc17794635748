//! Outgoing webhooks (Standard Webhooks) through the fake GitHub and a real receiver that checks
//! every signature itself: retries with backoff, the delivery log, redelivery, counts per change
//! kind, deletion, and the subscriptions API's refusals.
use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    db_test,
    support::{
        fake_github::{FakeGithub, FakeRepo},
        receiver::{verify, Receiver, Reply},
        synced::{self, ADMIN},
        wait,
        webhooks::SECRET,
        TestApp,
    },
};

pub const WAIT: Duration = Duration::from_secs(60);

pub async fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, app.url(&format!("/api/v1{path}")))
        .bearer_auth(ADMIN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates a subscription; returns its id and secret.
pub async fn subscribe(app: &TestApp, url: &str, events: &[&str]) -> (i64, String) {
    let (status, body) = api(
        app,
        reqwest::Method::POST,
        "/subscriptions",
        Some(json!({ "url": url, "events": events })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_i64().unwrap(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

pub async fn deliveries(app: &TestApp, sub: i64) -> Vec<Value> {
    let (status, body) = api(
        app,
        reqwest::Method::GET,
        &format!("/subscriptions/{sub}/deliveries"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits until the subscription's newest delivery satisfies `done`, looking again after each
/// recorded attempt (the log is written after the receiver answered).
pub async fn wait_newest(app: &TestApp, sub: i64, done: impl Fn(&Value) -> bool) -> Value {
    after_attempts(app, "the delivery log's newest entry", async || {
        deliveries(app, sub)
            .await
            .first()
            .filter(|d| done(d))
            .cloned()
    })
    .await
}

/// Checks after each outgoing webhook attempt the app recorded until `check` gives a value.
pub async fn after_attempts<T>(
    app: &TestApp,
    what: &str,
    check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let mut attempts = app.app.activity.outbox.watch();
    wait::until(what, &mut attempts, check).await
}

pub async fn push_and_wait(fake: &FakeGithub, app: &TestApp, repo: &FakeRepo) -> String {
    let push = repo.push("main");
    let r = fake
        .push_event(&push)
        .send(&app.client, &app.url("/webhooks/github"), SECRET)
        .await;
    assert_eq!(r.status(), 202);
    synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
    push.after
}

fn counts(v: &Value) -> (u64, u64, u64, u64) {
    let c = &v["data"]["counts"];
    let n = |k: &str| c[k].as_u64().unwrap();
    (n("added"), n("modified"), n("deleted"), n("renamed"))
}

db_test! {
    async fn a_signed_webhook_is_retried_until_accepted_logged_redelivered_and_counts_changes(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "hooked");
        repo.write("a.txt", "a1\n").write("b.txt", "b\n").write("docs/old.md", "# doc\n");
        let first = repo.commit("start");
        repo.push("main");
        let base = 0.1;
        let app = synced::start(&fake, &db, &[
            ("HUBSYNC_OUTBOX_ALLOW_PRIVATE", "1"),
            ("HUBSYNC_OUTBOX_RETRY_BASE_SECS", "0.1"),
        ]).await;
        let mut receiver = Receiver::start().await;
        receiver.answer(&[Reply::Status(500), Reply::Status(500)]);
        let (sub, secret) = subscribe(&app, &receiver.url, &["sync.succeeded", "sync.failed"]).await;
        assert!(secret.starts_with("whsec_"), "{secret}");

        // The first sync: three attempts, the same message each time, each signed afresh.
        synced::install(&fake, &app, &repo).await;
        let tries = [receiver.next(WAIT).await, receiver.next(WAIT).await, receiver.next(WAIT).await];
        for t in &tries {
            verify(&secret, t).unwrap_or_else(|e| panic!("{e}: {t:?}"));
            assert_eq!(t.content_type, "application/json");
            assert_eq!((&t.id, &t.body), (&tries[0].id, &tries[0].body), "same message on every attempt");
        }
        assert_eq!(tries.iter().map(|t| t.reply).collect::<Vec<_>>(), [Reply::Status(500), Reply::Status(500), Reply::Status(204)]);
        // Exponential backoff: at least the base, then twice it, between attempts.
        assert!(tries[1].at - tries[0].at >= Duration::from_secs_f64(base), "{:?}", tries[1].at - tries[0].at);
        assert!(tries[2].at - tries[1].at >= Duration::from_secs_f64(2.0 * base), "{:?}", tries[2].at - tries[1].at);
        let event = tries[0].json();
        let feed = crate::changes_feed::feed(&app, "").await;
        let project = hubsync::store::selections::project_of_repository(&app.app.db, repo.id).await.unwrap().unwrap().id;
        assert_eq!(event["type"], "sync.succeeded");
        assert!(chrono::DateTime::parse_from_rfc3339(event["timestamp"].as_str().unwrap()).is_ok(), "{event}");
        let data = &event["data"];
        assert_eq!((data["project_id"].as_i64(), data["repository"].as_str(), data["branch"].as_str()),
                   (Some(project), Some(repo.full_name().as_str()), Some("main")), "{event}");
        assert_eq!(data["commit_sha"], first.as_str());
        assert!(data["previous_sha"].is_null(), "{event}");
        assert!(data["run_id"].as_i64().unwrap() > 0);
        assert_eq!(counts(&event), (3, 0, 0, 0));
        assert_eq!(data["changes_cursor"], feed["next_cursor"], "a consumer at this cursor has the run's changes");

        // The delivery log: three attempts with their status codes and durations.
        let d = wait_newest(&app, sub, |d| d["status"] == "succeeded").await;
        assert_eq!(d["webhook_id"], tries[0].id.as_str());
        assert_eq!((d["attempts"].as_i64(), d["status_code"].as_i64()), (Some(3), Some(204)), "{d}");
        assert!(d["next_attempt_at"].is_null() && d["delivered_at"].is_string(), "{d}");
        let log = d["log"].as_array().unwrap();
        assert_eq!(log.iter().map(|a| a["status_code"].as_i64().unwrap()).collect::<Vec<_>>(), [500, 500, 204]);
        assert_eq!(log.iter().map(|a| a["attempt"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(log.iter().all(|a| a["duration_ms"].is_i64()), "{d}");
        assert!(log[0]["error"].as_str().unwrap().contains("500"), "{d}");

        // Modify, delete, rename and add in one push: one of each, from the first commit.
        repo.write("a.txt", "a2\n").remove("b.txt").remove("docs/old.md");
        repo.write("docs/new.md", "# doc\n").write("d.txt", "d\n");
        repo.commit("change everything");
        let second = push_and_wait(&fake, &app, &repo).await;
        let r = receiver.next(WAIT).await;
        verify(&secret, &r).unwrap();
        let event = r.json();
        assert_eq!(counts(&event), (1, 1, 1, 1), "{event}");
        assert_eq!((event["data"]["commit_sha"].as_str(), event["data"]["previous_sha"].as_str()), (Some(second.as_str()), Some(first.as_str())));
        assert_ne!(r.id, tries[0].id, "a new message");
        let second_delivery = wait_newest(&app, sub, |d| d["webhook_id"] == r.id.as_str() && d["status"] == "succeeded").await;

        // Manual redelivery of the first: the same message once more.
        let first_delivery = d["id"].as_i64().unwrap();
        let (status, body) = api(&app, reqwest::Method::POST, &format!("/subscriptions/{sub}/deliveries/{first_delivery}/attempts"), None).await;
        assert_eq!(status, 202, "{body}");
        let again = receiver.next(WAIT).await;
        verify(&secret, &again).unwrap();
        assert_eq!((&again.id, &again.body), (&tries[0].id, &tries[0].body));
        let log = deliveries(&app, sub).await;
        assert_eq!(log.len(), 2);
        assert_eq!(log[0]["id"], second_delivery["id"], "newest first");
        after_attempts(&app, "the redelivery is recorded", async || {
            (deliveries(&app, sub).await[1]["attempts"] == 4).then_some(())
        })
        .await;

        // Listings never show the secret; the status page lists the subscription.
        let (_, list) = api(&app, reqwest::Method::GET, "/subscriptions", None).await;
        assert_eq!(list["subscriptions"][0]["id"], sub);
        assert_eq!(list["subscriptions"][0]["enabled"], true);
        assert!(!list.to_string().contains(&secret[6..]), "{list}");
        let (_, one) = api(&app, reqwest::Method::GET, &format!("/subscriptions/{sub}"), None).await;
        assert!(one.get("secret").is_none(), "{one}");

        // Deleted: gone from the API, and the next run sends nothing.
        let (status, _) = api(&app, reqwest::Method::DELETE, &format!("/subscriptions/{sub}"), None).await;
        assert_eq!(status, 204);
        let (status, _) = api(&app, reqwest::Method::GET, &format!("/subscriptions/{sub}"), None).await;
        assert_eq!(status, 404);
        repo.write("e.txt", "e\n");
        repo.commit("after the deletion");
        push_and_wait(&fake, &app, &repo).await;
        use sea_orm::{EntityTrait, PaginatorTrait};
        let rows = hubsync::store::entities::outbox_deliveries::Entity::find().count(&app.app.db).await.unwrap();
        assert_eq!(rows, 2, "no delivery for a deleted subscription");
        assert!(receiver.drain().is_empty());
        app.stop().await;
        receiver.stop().await;
        fake.stop().await;
    }
}

db_test! {
    async fn bad_subscriptions_get_a_json_4xx_and_private_targets_are_refused(db) {
        let fake = FakeGithub::start().await;
        let app = synced::start(&fake, &db, &[]).await;
        let ok_events = json!(["sync.succeeded"]);
        for (body, why) in [
            (json!({ "url": "http://127.0.0.1:9/hook", "events": ok_events }), "HUBSYNC_OUTBOX_ALLOW_PRIVATE"),
            (json!({ "url": "http://localhost:9/hook", "events": ok_events }), "HUBSYNC_OUTBOX_ALLOW_PRIVATE"),
            (json!({ "url": "http://[::1]:9/hook", "events": ok_events }), "HUBSYNC_OUTBOX_ALLOW_PRIVATE"),
            (json!({ "url": "http://10.0.0.1/hook", "events": ok_events }), "private"),
            (json!({ "url": "http://169.254.169.254/latest", "events": ok_events }), "link-local"),
            (json!({ "url": "http://[::ffff:127.0.0.1]/", "events": ok_events }), "loopback"),
            (json!({ "url": "ftp://example.com/", "events": ok_events }), "http"),
            (json!({ "url": "not a url", "events": ok_events }), "http"),
            (json!({ "url": "https://u:p@example.com/", "events": ok_events }), "password"),
            (json!({ "url": "https://example.com/", "events": [] }), "at least one"),
            (json!({ "url": "https://example.com/", "events": ["push"] }), "unknown event"),
            (json!({ "url": "https://example.com/", "events": ok_events, "project_id": 999 }), "no project"),
            (json!({ "url": "https://example.com/", "events": ok_events, "secret": "mine" }), "unknown field"),
            (json!({ "events": ok_events }), "url"),
        ] {
            let (status, resp) = api(&app, reqwest::Method::POST, "/subscriptions", Some(body.clone())).await;
            assert!((400..500).contains(&status), "{body}: {status} {resp}");
            let error = resp["error"].as_str().unwrap_or_else(|| panic!("{body}: {resp}"));
            assert!(error.contains(why), "{body}: {error}");
        }
        let (status, list) = api(&app, reqwest::Method::GET, "/subscriptions", None).await;
        assert_eq!((status, list), (200, json!({ "subscriptions": [] })));
        for (method, path) in [
            (reqwest::Method::GET, "/subscriptions/7"),
            (reqwest::Method::DELETE, "/subscriptions/7"),
            (reqwest::Method::GET, "/subscriptions/7/deliveries"),
            (reqwest::Method::POST, "/subscriptions/7/deliveries/1/attempts"),
        ] {
            let (status, resp) = api(&app, method.clone(), path, None).await;
            assert_eq!(status, 404, "{method} {path}: {resp}");
            assert!(resp["error"].is_string());
        }
        let (status, _) = api(&app, reqwest::Method::PATCH, "/subscriptions/7", Some(json!({ "enabled": true }))).await;
        assert_eq!(status, 404);
        let r = app.client.post(app.url("/api/v1/subscriptions")).json(&json!({ "url": "https://example.com/", "events": ok_events })).send().await.unwrap();
        assert_eq!(r.status(), 401, "admin only");
        app.stop().await;
        fake.stop().await;
    }
}
