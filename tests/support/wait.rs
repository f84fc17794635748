//! Waiting on the app's own signals instead of sleeping: its progress events, its background
//! pass counts (`RunningApp::activity`), the fake GitHub's requests. Subscribe first, then check,
//! then re-check on every signal: what happened before the subscription is seen by the check,
//! what happens after it wakes the wait. The time limit only fails a wait that never ends.
use std::{future::Future, time::Duration};

use hubsync::{
    progress::{Event, Hub, ProgressEvent, Tailer},
    startup::RunningApp,
};
use sea_orm::DatabaseConnection;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// How long any wait may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Something that says "look again".
pub trait Signal {
    /// Returns after the next change (or missed changes); never, once the source is gone.
    fn changed(&mut self) -> impl Future<Output = ()>;
}

impl<T> Signal for watch::Receiver<T> {
    async fn changed(&mut self) {
        if watch::Receiver::changed(self).await.is_err() {
            std::future::pending::<()>().await
        }
    }
}

impl Signal for broadcast::Receiver<Event> {
    async fn changed(&mut self) {
        match self.recv().await {
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// Either signal.
impl<A: Signal, B: Signal> Signal for (A, B) {
    async fn changed(&mut self) {
        let (a, b) = self;
        tokio::select! {
            _ = a.changed() => {}
            _ = b.changed() => {}
        }
    }
}

/// Checks, and again after each signal, until `check` gives a value; panics after `LIMIT`.
pub async fn until<T>(
    what: &str,
    signal: &mut impl Signal,
    check: impl AsyncFnMut() -> Option<T>,
) -> T {
    within(LIMIT, what, signal, check).await
}

/// `until` with its own time limit.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    signal: &mut impl Signal,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::timeout_at(deadline, signal.changed())
            .await
            .is_err()
        {
            if let Some(v) = check().await {
                return v;
            }
            panic!("{what}: not within {limit:?}");
        }
    }
}

/// `until` for a yes/no check.
pub async fn until_true(
    what: &str,
    signal: &mut impl Signal,
    mut check: impl AsyncFnMut() -> bool,
) {
    until(what, signal, async || check().await.then_some(())).await
}

/// The next event on `events` that `pick` accepts (subscribe before causing it); panics after
/// `LIMIT`, or if the receiver fell so far behind that it missed events.
pub async fn event(
    what: &str,
    events: &mut broadcast::Receiver<Event>,
    mut pick: impl FnMut(&ProgressEvent) -> bool,
) -> Event {
    let next = async {
        loop {
            match events.recv().await {
                Ok(e) if pick(&e.event) => return e,
                Ok(_) => {}
                Err(e) => panic!("{what}: {e}"),
            }
        }
    };
    tokio::time::timeout(LIMIT, next)
        .await
        .unwrap_or_else(|_| panic!("{what}: no such event within {LIMIT:?}"))
}

/// Waits for the next `n` passes counted by `passes` (a pass already under way may be one).
pub async fn passes(what: &str, passes: &mut watch::Receiver<u64>, n: u64) {
    let target = *passes.borrow_and_update() + n;
    let again = passes.clone();
    until_true(what, passes, async || *again.borrow() >= target).await
}

/// What a test watches an app through: its database and a progress hub on it.
pub trait Observed {
    fn db(&self) -> &DatabaseConnection;
    fn hub(&self) -> &Hub;
    fn events(&self) -> broadcast::Receiver<Event> {
        self.hub().subscribe()
    }
}

impl Observed for RunningApp {
    fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }
}

/// A progress hub of the test's own, for apps in other processes: it tails the shared event
/// log as any replica's hub does. Stops when dropped.
pub struct Watcher {
    pub db: DatabaseConnection,
    hub: Hub,
    stop: CancellationToken,
}

impl Watcher {
    pub async fn start(db: &DatabaseConnection) -> Self {
        let (hub, tailer): (Hub, Tailer) = Hub::start(db, 4096).await.expect("the hub starts");
        let stop = CancellationToken::new();
        tokio::spawn(tailer.run(stop.clone()));
        Self {
            db: db.clone(),
            hub,
            stop,
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Observed for Watcher {
    fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }
}
