//! Sending webhooks to the test app as GitHub does, and waiting for their processing.
use hubsync::store::entities::deliveries;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{signing::github_signature, test_config, wait, TestApp, TestDb};

pub const SECRET: &str = "test-webhook-secret-of-hubsync";

/// A test app that has a webhook secret, retries quickly, plus any extra variables.
pub fn webhook_config(db: &TestDb, extra: &[(&str, &str)]) -> hubsync::config::Config {
    // Extras first: the first match wins, so a test can override the defaults below.
    let mut vars = extra.to_vec();
    vars.extend([
        ("GITHUB_WEBHOOK_SECRET", SECRET),
        ("HUBSYNC_WEBHOOK_RETRY_MS", "20"),
    ]);
    test_config(db, &vars)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/fixtures/webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Counter-based delivery ids: unique within the test run.
pub fn new_delivery_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestApp {
    /// POSTs `body` signed with the test secret, with GitHub's headers.
    pub async fn deliver(&self, event: &str, delivery: &str, body: &[u8]) -> reqwest::Response {
        self.client
            .post(self.url("/webhooks/github"))
            .header("Content-Type", "application/json")
            .header("User-Agent", "GitHub-Hookshot/1a2b3c4")
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("X-GitHub-Hook-ID", "512345678")
            .header("X-GitHub-Hook-Installation-Target-Type", "integration")
            .header("X-GitHub-Hook-Installation-Target-ID", "1001")
            .header("X-Hub-Signature-256", github_signature(SECRET, body))
            .body(body.to_vec())
            .send()
            .await
            .expect("request sent")
    }

    /// Delivers a fixture under a new delivery id and expects 202; returns the delivery id.
    pub async fn deliver_fixture(&self, event: &str, name: &str) -> String {
        let id = new_delivery_id();
        let r = self.deliver(event, &id, &fixture(name)).await;
        assert_eq!(
            r.status(),
            202,
            "{name}: {}",
            r.text().await.unwrap_or_default()
        );
        id
    }

    pub async fn delivery(&self, id: &str) -> Option<deliveries::Model> {
        deliveries::Entity::find()
            .filter(deliveries::Column::DeliveryId.eq(id))
            .one(&self.app.db)
            .await
            .expect("query deliveries")
    }

    /// Waits until the delivery leaves `received` and returns it, looking again after each
    /// processor pass.
    pub async fn processed(&self, id: &str) -> deliveries::Model {
        self.attempted(id, |d| d.status != "received").await
    }

    /// Waits until the delivery satisfies `done`, looking again after each processor pass.
    pub async fn attempted(
        &self,
        id: &str,
        done: impl Fn(&deliveries::Model) -> bool,
    ) -> deliveries::Model {
        let mut passes = self.app.activity.webhooks.watch();
        let what = format!("delivery {id} processed");
        wait::until(&what, &mut passes, async || {
            self.delivery(id).await.filter(|d| done(d))
        })
        .await
    }

    /// Delivers a fixture and waits for its processing; asserts the final status.
    pub async fn apply(&self, event: &str, name: &str, status: &str) -> deliveries::Model {
        let id = self.deliver_fixture(event, name).await;
        let d = self.processed(&id).await;
        assert_eq!(d.status, status, "{name}: {:?}", d.error);
        d
    }
}
