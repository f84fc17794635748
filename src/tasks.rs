//! An app's background tasks: tracked so that stopping waits for them, and a panic in any of them
//! is counted so that stopping reports it instead of the task vanishing silently.
use std::{
    future::Future,
    panic::AssertUnwindSafe,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use futures_util::FutureExt;
use tokio_util::task::TaskTracker;

#[derive(Clone, Default)]
pub(crate) struct Tasks {
    tracker: TaskTracker,
    panicked: Arc<AtomicUsize>,
}

impl Tasks {
    pub fn spawn<F>(&self, task: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let panicked = self.panicked.clone();
        self.tracker.spawn(async move {
            // The panic hook has already logged the message; this only keeps count.
            if AssertUnwindSafe(task).catch_unwind().await.is_err() {
                panicked.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// No more tasks; `wait` returns once the running ones end.
    pub fn close(&self) {
        self.tracker.close();
    }

    pub async fn wait(&self) {
        self.tracker.wait().await;
    }

    /// How many tasks ended by panicking.
    pub(crate) fn panicked(&self) -> usize {
        self.panicked.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_counted() {
        let tasks = Tasks::default();
        tasks.spawn(async {});
        tasks.spawn(async { panic!("boom (expected by this test)") });
        tasks.close();
        tasks.wait().await;
        assert_eq!(tasks.panicked(), 1);
    }
}
