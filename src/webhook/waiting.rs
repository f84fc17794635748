//! How many requests are waiting for the inbox to store their delivery, so that the processor
//! (and on SQLite the checkpointer) can give way to a burst of them.
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::sync::Notify;

/// How many requests are waiting for their delivery to be stored. The processor defers to them:
/// GitHub waits for each answer (and gives up after 10 s), processing can lag a moment.
#[derive(Clone, Default)]
pub struct Waiting(Arc<WaitingCount>);

#[derive(Default)]
struct WaitingCount {
    requests: AtomicUsize,
    /// Notified when a burst ends. Polling for that every millisecond cost hubsync's runtime a
    /// thousand context switches a second during a burst.
    calm: Notify,
}

/// The processor defers only to a burst: this many requests waiting at once. A steady stream
/// keeps a request or two waiting most of the time and must not slow processing down.
const BURST: usize = 8;
/// The processor never defers longer than this per delivery, so it progresses under any load.
const MAX_DEFER: Duration = Duration::from_millis(20);

impl Waiting {
    /// Whether a burst of requests is waiting for the inbox right now.
    pub(crate) fn is_burst(&self) -> bool {
        self.0.requests.load(Ordering::SeqCst) >= BURST
    }

    /// Whether no request is waiting for the inbox at all.
    pub(crate) fn is_quiet(&self) -> bool {
        self.0.requests.load(Ordering::SeqCst) == 0
    }

    /// Returns once fewer than `BURST` requests wait for the inbox, or after `MAX_DEFER`.
    pub(crate) async fn defer(&self) {
        self.defer_up_to(MAX_DEFER).await
    }

    async fn defer_up_to(&self, max: Duration) {
        let until = tokio::time::Instant::now() + max;
        loop {
            // Registered before the check, so that a burst ending in between is not missed.
            let calm = self.0.calm.notified();
            tokio::pin!(calm);
            calm.as_mut().enable();
            if !self.is_burst() || tokio::time::timeout_at(until, calm).await.is_err() {
                return;
            }
        }
    }
}

/// Counts a request from its hand-over to its answer, even if the request is dropped.
pub(super) struct Counted(Arc<WaitingCount>);

impl Counted {
    pub(super) fn new(waiting: &Waiting) -> Self {
        waiting.0.requests.fetch_add(1, Ordering::SeqCst);
        Self(waiting.0.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.0.requests.fetch_sub(1, Ordering::SeqCst) == BURST {
            self.0.calm.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_processor_defers_to_a_burst_of_waiting_requests_and_no_longer() {
        let waiting = Waiting::default();
        let started = tokio::time::Instant::now();
        waiting.defer_up_to(Duration::from_secs(60)).await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing waits: no deferring"
        );

        let mut held: Vec<Counted> = (0..BURST - 1).map(|_| Counted::new(&waiting)).collect();
        let started = tokio::time::Instant::now();
        waiting.defer_up_to(Duration::from_secs(60)).await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a steady stream: no deferring"
        );

        held.push(Counted::new(&waiting));
        let started = tokio::time::Instant::now();
        waiting.defer_up_to(Duration::from_millis(30)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(30),
            "a burst goes first"
        );

        let releaser = {
            let waiting = waiting.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                held.pop();
                (waiting, held)
            })
        };
        tokio::time::timeout(
            Duration::from_secs(30),
            waiting.defer_up_to(Duration::from_secs(60)),
        )
        .await
        .expect("deferring ends when the burst is answered");
        let (waiting, _held) = releaser.await.unwrap();
        assert_eq!(waiting.0.requests.load(Ordering::SeqCst), BURST - 1);
    }
}
