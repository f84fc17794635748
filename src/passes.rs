//! The background loops' pass counts: /metrics reports them (`hubsync_background_passes_total`),
//! and whatever must come after "the next pass" watches them instead of polling the database.
//! A leaf module, as `metrics` is.
use std::sync::Arc;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use tokio::sync::watch;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: &'static str,
}

/// The background loops' pass counts (`hubsync_background_passes_total`).
#[derive(Clone)]
pub struct Activity {
    /// Webhook processor passes that handled (or retried) a delivery, after their commit.
    pub webhooks: Passes,
    /// Outgoing webhook attempts, after they were recorded.
    pub outbox: Passes,
    /// Self-healing passes (redelivery, installations, an installer's return), however they ended.
    pub healing: Passes,
    /// Sync runs ended, after `hubsync_sync_runs_total` counted them (not a series of its own).
    pub runs: Passes,
}

/// A count of passes that can also be watched: what comes after "the next pass" waits on it
/// rather than polls the database.
#[derive(Clone)]
pub struct Passes {
    count: Arc<watch::Sender<u64>>,
    counter: Counter,
}

impl Passes {
    fn new(family: &Family<TaskLabels, Counter>, task: &'static str) -> Self {
        let counter = (*family.get_or_create(&TaskLabels { task })).clone();
        Self {
            count: Arc::new(watch::Sender::new(0)),
            counter,
        }
    }

    pub fn done(&self) {
        self.counter.inc();
        self.count.send_modify(|n| *n += 1);
    }

    pub fn count(&self) -> u64 {
        *self.count.borrow()
    }

    /// Changes after every pass.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.count.subscribe()
    }
}

impl Activity {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let passes = Family::<TaskLabels, Counter>::default();
        registry.register(
            "background_passes",
            "Background passes done: webhook processing (deliveries handled), outgoing webhook \
             attempts, self-healing passes",
            passes.clone(),
        );
        Self {
            webhooks: Passes::new(&passes, "webhooks"),
            outbox: Passes::new(&passes, "outbox"),
            healing: Passes::new(&passes, "healing"),
            runs: Passes {
                count: Arc::new(watch::Sender::new(0)),
                counter: Counter::default(),
            },
        }
    }
}
