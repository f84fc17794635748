//! Deliveries GitHub could not make reach hubsync anyway: at start-up (and every
//! HUBSYNC_REDELIVERY_SECS) hubsync reads the app's delivery log and asks GitHub to redeliver each
//! failed delivery it has not stored. The fake GitHub keeps that log and really redelivers.
use std::{future::Future, net::SocketAddr, time::Duration};

use hubsync::store::{
    entities::deliveries,
    passes::{self, PassKind},
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::{
    db_test,
    support::{
        fake_github::{route, FakeGithub, Fault, WebhookDelivery},
        spawn_app_with, synced, wait,
        webhooks::SECRET,
        TestApp, TestDb,
    },
};

const WAIT: Duration = Duration::from_secs(60);

/// An address nothing listens on now, for a hubsync that starts later (GitHub's webhook URL
/// stays the same while hubsync is down).
fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn start_at(
    fake: &FakeGithub,
    db: &TestDb,
    addr: SocketAddr,
    extra: &[(&str, &str)],
) -> TestApp {
    let mut config = synced::config(fake, db, extra);
    config.bind = addr;
    spawn_app_with(config).await
}

/// Checks after each self-healing pass and each delivery the app processed (a redelivered
/// delivery is stored, then processed).
async fn eventually<F: Future<Output = bool>>(
    app: &TestApp,
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let activity = &app.app.activity;
    let mut signals = (activity.healing.watch(), activity.webhooks.watch());
    wait::until_true(what, &mut signals, async || check().await).await
}

async fn stored(db: &DatabaseConnection, guid: &str) -> Option<deliveries::Model> {
    deliveries::Entity::find()
        .filter(deliveries::Column::DeliveryId.eq(guid))
        .one(db)
        .await
        .unwrap()
}

async fn passes_done(db: &DatabaseConnection) -> Option<chrono::DateTime<chrono::Utc>> {
    passes::load(db, PassKind::Redelivery)
        .await
        .unwrap()?
        .last_finished_at
}

/// A delivery no sync depends on, with a fresh GUID.
fn harmless(fake: &FakeGithub, inst: i64) -> WebhookDelivery {
    fake.installation_event(inst, "new_permissions_accepted")
}

db_test! {
    async fn a_push_delivered_while_hubsync_was_down_is_synced_after_it_starts(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let repo = fake.create_repo(inst, "widgets");
        repo.write("a.txt", "a\n");
        repo.commit("start");
        repo.push("main");
        let addr = free_addr();
        fake.set_webhook(&format!("http://{addr}/webhooks/github"), SECRET);

        let app = start_at(&fake, &db, addr, &[]).await;
        let installed = fake.installation_event(inst, "created");
        assert_eq!(fake.deliver(&installed).await, 202);
        synced::wait_synced(&app.app, repo.id, "main", &repo.head("main").unwrap(), WAIT).await;
        app.stop().await;

        // hubsync is down: GitHub's push delivery fails and GitHub records it.
        repo.write("b.txt", "b\n");
        repo.commit("while hubsync was down");
        let push = repo.push("main");
        let lost = fake.push_event(&push);
        assert_eq!(fake.deliver(&lost).await, 502);

        // No webhook from the test, no branch reconcile: only the redelivery can bring it.
        let app = start_at(&fake, &db, addr, &[]).await;
        let sel = synced::wait_synced(&app.app, repo.id, "main", &push.after, WAIT).await;
        synced::assert_manifest_matches(&app.app.db, sel.id, &repo, "main", 10 << 20).await;
        let d = stored(&app.app.db, &lost.delivery_id).await.expect("the push is in the delivery log");
        assert_eq!(d.event, "push");
        assert_eq!(fake.redelivered(), vec![lost.delivery_id.clone()], "only the failed delivery");
        let pass = passes::load(&app.app.db, PassKind::Redelivery).await.unwrap().unwrap();
        assert_eq!(pass.actions_total, 1);
        assert!(pass.last_outcome.unwrap().starts_with("1 redeliveries requested"));

        // The status page says so, naming the delivery but showing nothing of its payload.
        let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let r = browser.post(app.url("/login")).form(&[("token", synced::ADMIN)]).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let page = browser.get(app.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Self-healing"), "{page}");
        assert!(page.contains("1 redeliveries requested"), "{page}");
        assert!(page.contains(&lost.delivery_id), "{page}");
        assert!(!page.contains("while hubsync was down"), "no commit message from the payload");
        app.stop().await;
    }
}

db_test! {
    async fn a_delivery_hubsync_stored_is_not_redelivered(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let addr = free_addr();
        fake.set_webhook(&format!("http://{addr}/webhooks/github"), SECRET);
        let app = start_at(&fake, &db, addr, &[("HUBSYNC_REDELIVERY_SECS", "1")]).await;
        let db = app.app.db.clone();
        eventually(&app, "the start-up pass", || {
            let db = db.clone();
            async move { passes_done(&db).await.is_some() }
        })
        .await;

        // hubsync stored this one, but GitHub gave up waiting for the answer and logged a failure.
        let slow = harmless(&fake, inst);
        let r = slow.send(&app.client, &app.url("/webhooks/github"), SECRET).await;
        assert_eq!(r.status(), 202);
        fake.record_delivery(&slow, 504);
        // This one never arrived.
        let missing = harmless(&fake, inst);
        fake.record_delivery(&missing, 502);

        eventually(&app, "the missing delivery is stored", || {
            let db = db.clone();
            let guid = missing.delivery_id.clone();
            async move { stored(&db, &guid).await.is_some() }
        })
        .await;
        // Two more passes, which find nothing more to ask for.
        let after = passes_done(&db).await;
        for _ in 0..2 {
            let seen = passes_done(&db).await;
            eventually(&app, "another pass", || {
                let db = db.clone();
                async move { passes_done(&db).await > seen }
            })
            .await;
        }
        assert!(passes_done(&db).await > after);
        assert_eq!(fake.redelivered(), vec![missing.delivery_id.clone()]);
        assert_eq!(fake.requests(route::REDELIVER), 1);
        app.stop().await;
    }
}

db_test! {
    async fn the_delivery_log_is_read_across_pages_and_then_only_as_far_as_the_last_pass(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let addr = free_addr();
        fake.set_webhook(&format!("http://{addr}/webhooks/github"), SECRET);
        // 250 deliveries while hubsync was down: three failed, one on each page of 100.
        let mut failed = Vec::new();
        for i in 0..250 {
            let d = harmless(&fake, inst);
            if [10, 120, 230].contains(&i) {
                fake.record_delivery(&d, 502);
                failed.push(d.delivery_id.clone());
            } else {
                fake.record_delivery(&d, 200);
            }
        }
        let app = start_at(&fake, &db, addr, &[]).await;
        let db_conn = app.app.db.clone();
        eventually(&app, "the three failed deliveries are stored", || {
            let db = db_conn.clone();
            let failed = failed.clone();
            async move {
                for g in &failed {
                    if stored(&db, g).await.is_none() {
                        return false;
                    }
                }
                true
            }
        })
        .await;
        assert_eq!(fake.requests(route::HOOK_DELIVERIES), 3, "three pages");
        assert_eq!(fake.redelivered(), failed, "oldest first, each once");
        app.stop().await;

        // Later: one more failure. The next pass reads only back to where the last one ended.
        let late = harmless(&fake, inst);
        fake.record_delivery(&late, 500);
        let app = start_at(&fake, &db, addr, &[]).await;
        let db_conn = app.app.db.clone();
        eventually(&app, "the late failure is stored", || {
            let db = db_conn.clone();
            let guid = late.delivery_id.clone();
            async move { stored(&db, &guid).await.is_some() }
        })
        .await;
        assert_eq!(fake.requests(route::HOOK_DELIVERIES), 4, "one page");
        assert_eq!(fake.redelivered().len(), 4);
        app.stop().await;
    }
}

db_test! {
    async fn a_rate_limit_stops_the_pass_until_it_lifts(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let addr = free_addr();
        fake.set_webhook(&format!("http://{addr}/webhooks/github"), SECRET);
        let failed: Vec<WebhookDelivery> = (0..3).map(|_| harmless(&fake, inst)).collect();
        for d in &failed {
            fake.record_delivery(d, 502);
        }
        fake.inject(route::REDELIVER, Fault::PrimaryExhausted { reset_in: 2 }, 1);
        let app = start_at(&fake, &db, addr, &[("HUBSYNC_REDELIVERY_SECS", "1")]).await;
        let db_conn = app.app.db.clone();
        eventually(&app, "the pass stops on the rate limit", || {
            let db = db_conn.clone();
            async move {
                passes::load(&db, PassKind::Redelivery).await.unwrap().is_some_and(|p| p.not_before.is_some() && p.last_finished_at.is_some())
            }
        })
        .await;
        // Stopped at the first request: the other two were not tried.
        assert_eq!(fake.requests(route::REDELIVER), 1);
        assert!(fake.redelivered().is_empty());
        let pass = passes::load(&app.app.db, PassKind::Redelivery).await.unwrap().unwrap();
        assert!(pass.last_outcome.unwrap().contains("rate limited until"));

        // Once the limit lifts, a later pass asks for all three, oldest first, once each.
        let guids: Vec<String> = failed.iter().map(|d| d.delivery_id.clone()).collect();
        eventually(&app, "all three are stored", || {
            let db = db_conn.clone();
            let guids = guids.clone();
            async move {
                for g in &guids {
                    if stored(&db, g).await.is_none() {
                        return false;
                    }
                }
                true
            }
        })
        .await;
        assert_eq!(fake.redelivered(), guids);
        assert_eq!(fake.requests(route::REDELIVER), 4);
        app.stop().await;
    }
}

db_test! {
    async fn two_replicas_ask_for_each_missing_delivery_once(db) {
        let fake = FakeGithub::start().await;
        let inst = fake.add_installation("octo-org");
        let (a, b) = (free_addr(), free_addr());
        fake.set_webhook(&format!("http://{a}/webhooks/github"), SECRET);
        let missing: Vec<String> = (0..5)
            .map(|_| {
                let d = harmless(&fake, inst);
                fake.record_delivery(&d, 502);
                d.delivery_id
            })
            .collect();
        let every_second = [("HUBSYNC_REDELIVERY_SECS", "1")];
        let (one, two) = tokio::join!(
            start_at(&fake, &db, a, &every_second),
            start_at(&fake, &db, b, &every_second)
        );
        let db_conn = one.app.db.clone();
        eventually(&one, "every missing delivery is stored", || {
            let db = db_conn.clone();
            let missing = missing.clone();
            async move {
                for g in &missing {
                    if stored(&db, g).await.is_none() {
                        return false;
                    }
                }
                true
            }
        })
        .await;
        // Two more passes on each replica.
        let (mut on_one, mut on_two) = (one.app.activity.healing.watch(), two.app.activity.healing.watch());
        tokio::join!(
            wait::passes("two more passes on one", &mut on_one, 2),
            wait::passes("two more passes on the other", &mut on_two, 2),
        );
        assert_eq!(fake.redelivered(), missing, "each once, oldest first");
        one.stop().await;
        two.stop().await;
    }
}
