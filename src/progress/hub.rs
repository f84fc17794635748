//! The in-process fan-out of `sync_events` rows.
//!
//! One tailer per process reads new rows by id (src/progress/tail.rs) and broadcasts them in id
//! order. It wakes when this process wrote events (`poke`), when another replica's commit is
//! announced over PostgreSQL's LISTEN/NOTIFY (src/progress/listen.rs), and otherwise on a fallback
//! poll, so a lost notification costs latency, never an event.
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use tokio::sync::{broadcast, watch, Notify};
use tokio_util::sync::CancellationToken;

use super::{listen, tail::Tail, Published};
use crate::store::entities::sync_events;

/// A progress event as subscribers see it.
pub type Event = Arc<Published>;

/// Looks for new rows this often when nothing announced them: no notifications (SQLite), or
/// the PostgreSQL listener is down.
const POLL: Duration = Duration::from_millis(250);
/// The fallback poll while the PostgreSQL listener is up.
const POLL_LISTENING: Duration = Duration::from_secs(2);
/// While a gap is unsettled the tailer checks again after this, doubling up to `POLL`.
const SETTLE_FIRST: Duration = Duration::from_millis(5);

#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

pub(super) struct Shared {
    tx: broadcast::Sender<Event>,
    wake: Notify,
    /// The tailer's cursor: every event up to it has been broadcast or will never exist.
    published: watch::Sender<i64>,
    reads: AtomicU64,
    listening: AtomicBool,
}

impl listen::Announce for Shared {
    fn listening(&self, up: bool) {
        self.listening.store(up, Ordering::Relaxed);
    }

    fn announced(&self, id: i64) {
        if id > *self.published.borrow() {
            self.wake.notify_one();
        }
    }

    fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Tails `sync_events` for a hub; see `Hub::start`.
pub struct Tailer {
    hub: Hub,
    db: DatabaseConnection,
    tail: Tail,
}

impl Hub {
    /// Positions a hub at the newest event. `capacity` bounds what a subscriber may fall behind
    /// before it catches up from the table instead.
    pub async fn start(db: &DatabaseConnection, capacity: usize) -> Result<(Self, Tailer), DbErr> {
        let tail = Tail::start(db).await?;
        let (tx, _) = broadcast::channel(capacity.max(16));
        let hub = Self {
            shared: Arc::new(Shared {
                tx,
                wake: Notify::new(),
                published: watch::Sender::new(tail.cursor()),
                reads: AtomicU64::new(tail.reads()),
                listening: AtomicBool::new(false),
            }),
        };
        let tailer = Tailer {
            hub: hub.clone(),
            db: db.clone(),
            tail,
        };
        Ok((hub, tailer))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.tx.subscribe()
    }

    /// Every event with an id at or below this has been broadcast (or will never exist); every
    /// later one will be broadcast to receivers subscribed before this was read.
    pub(crate) fn published(&self) -> i64 {
        *self.shared.published.borrow()
    }

    /// Waits, at most `limit`, until every event committed before this call has been published;
    /// returns `published()` then. A snapshot labelled with it then reflects no event that is
    /// still to come live.
    pub(crate) async fn caught_up(&self, db: &DatabaseConnection, limit: Duration) -> i64 {
        let target = latest_id(db).await.unwrap_or(0);
        self.poke();
        let mut rx = self.shared.published.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|p| *p >= target)).await;
        self.published()
    }

    /// Queries the tailer has run against the database: flat while nothing is written.
    pub fn reads(&self) -> u64 {
        self.shared.reads.load(Ordering::Relaxed)
    }

    /// Call after committing events so subscribers get them without waiting for the poll.
    pub(crate) fn poke(&self) {
        self.shared.wake.notify_one();
    }
}

impl Tailer {
    /// Tails `sync_events` until shutdown (and on PostgreSQL listens for other replicas' events).
    pub async fn run(self, shutdown: CancellationToken) {
        let options = (self.db.get_database_backend() == DbBackend::Postgres)
            .then(|| self.db.get_postgres_connection_pool().connect_options());
        let shared = self.hub.shared.clone();
        let stop = shutdown.clone();
        let listen = async move {
            if let Some(options) = options {
                listen::run((*options).clone(), shared, stop).await;
            }
        };
        tokio::join!(listen, self.tail(shutdown.clone()));
    }

    async fn tail(mut self, shutdown: CancellationToken) {
        let shared = self.hub.shared.clone();
        let mut settle = SETTLE_FIRST;
        loop {
            let step = self.tail.step(&self.db).await;
            shared.reads.store(self.tail.reads(), Ordering::Relaxed);
            let wait = match step {
                Ok(step) => {
                    // Published before it is sent: a subscriber that reads `published` after
                    // subscribing either finds a row in the table or receives it.
                    let cursor = self.tail.cursor();
                    shared.published.send_if_modified(|p| {
                        let moved = cursor > *p;
                        *p = (*p).max(cursor);
                        moved
                    });
                    for row in step.ready {
                        // No subscribers is fine: the row stays in the table for replay.
                        if let Some(p) = Published::from_row(&row) {
                            let _ = shared.tx.send(Arc::new(p));
                        }
                    }
                    if step.more {
                        Duration::ZERO
                    } else if step.waiting {
                        let wait = settle;
                        settle = (settle * 2).min(POLL);
                        wait
                    } else {
                        settle = SETTLE_FIRST;
                        if shared.listening.load(Ordering::Relaxed) {
                            POLL_LISTENING
                        } else {
                            POLL
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading new progress events failed");
                    POLL
                }
            };
            if wait.is_zero() {
                if shutdown.is_cancelled() {
                    return;
                }
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

async fn latest_id(db: &DatabaseConnection) -> Result<i64, DbErr> {
    use sea_orm::{EntityTrait, QueryOrder, QuerySelect};
    let id: Option<i64> = sync_events::Entity::find()
        .select_only()
        .column(sync_events::Column::Id)
        .order_by_desc(sync_events::Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(id.unwrap_or(0))
}
