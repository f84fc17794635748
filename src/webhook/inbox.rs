//! Group commit for deliveries. Every `202` waits for its delivery to be durably stored, and a
//! commit costs about the same for one row as for a hundred (one fsync on PostgreSQL; SQLite has
//! one writer). So requests hand their delivery to a writer task, which stores whatever has
//! queued up while the previous batch was committing in one statement, then answers each. With
//! two writers (PostgreSQL) one batch is sent while the other commits; a small batch waits for
//! that commit rather than paying for a statement and a commit of its own.
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use sea_orm::{DatabaseBackend, DatabaseConnection};
use tokio::sync::{mpsc, oneshot, Mutex, Notify};

use super::waiting::Counted;
pub use super::waiting::Waiting;

use crate::store::deliveries::{self, NewDelivery};

/// At most this many deliveries in one statement (13 parameters each, well under SQLite's limit).
const MAX_BATCH: usize = 256;
/// Or this many payload bytes: a batch of large pushes is committed sooner.
const MAX_BATCH_BYTES: usize = 8 << 20;
/// A batch smaller than this goes only once no other batch is being stored; until then it keeps
/// gathering. Under load a writer that had just committed would otherwise send the one or two
/// deliveries that came in meanwhile as a batch of their own, and each statement and commit
/// costs PostgreSQL about as much as a dozen rows. At 64 senders this cut PostgreSQL's CPU per
/// delivery by 7-13% (20% at 16). A lone request never waits: with no batch in flight it goes.
const GATHER: usize = 32;

#[derive(Debug, Clone, thiserror::Error)]
pub enum InboxError {
    #[error("storing the delivery: {0}")]
    Db(String),
    #[error("hubsync is shutting down")]
    Closed,
}

struct Pending {
    delivery: NewDelivery,
    stored: oneshot::Sender<Result<bool, InboxError>>,
}

#[derive(Clone)]
pub struct Inbox {
    queue: mpsc::Sender<Pending>,
    waiting: Waiting,
    flight: Arc<InFlight>,
}

impl Inbox {
    /// Starts the writer. It ends once every `Inbox` clone is dropped (the HTTP server stopped),
    /// after storing what was queued. `stored` is notified after each batch with a new delivery.
    pub(crate) fn start(
        db: DatabaseConnection,
        stored: Arc<Notify>,
        waiting: Waiting,
        tasks: &crate::tasks::Tasks,
    ) -> Self {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        // PostgreSQL commits one batch while the next is sent; SQLite has one writer anyway.
        let writers = match db.get_database_backend() {
            DatabaseBackend::Sqlite => 1,
            _ => 2,
        };
        let rx = Arc::new(Mutex::new(rx));
        let flight = Arc::new(InFlight::default());
        for _ in 0..writers {
            tasks.spawn(write(
                db.clone(),
                rx.clone(),
                stored.clone(),
                flight.clone(),
            ));
        }
        Self {
            queue,
            waiting,
            flight,
        }
    }

    /// Stores the delivery unless its delivery id is stored already; true when it was new.
    pub async fn store(&self, delivery: NewDelivery) -> Result<bool, InboxError> {
        let _counted = Counted::new(&self.waiting);
        let (tx, rx) = oneshot::channel();
        hand_over(
            &self.queue,
            &self.flight,
            Pending {
                delivery,
                stored: tx,
            },
        )
        .await?;
        rx.await.map_err(|_| InboxError::Closed)?
    }
}

/// Queues a delivery for the writers, and wakes the gathering one only once enough have queued
/// for its batch: a wake-up per delivery cost a context switch of hubsync's runtime per request.
async fn hand_over(
    queue: &mpsc::Sender<Pending>,
    flight: &InFlight,
    pending: Pending,
) -> Result<(), InboxError> {
    queue.send(pending).await.map_err(|_| InboxError::Closed)?;
    let queued = queue.max_capacity() - queue.capacity();
    if queued >= flight.wanted.load(Ordering::SeqCst) {
        flight.enough.notify_one();
    }
    Ok(())
}

/// How many batches the writers are storing right now, and a signal when one is done; how many
/// more queued deliveries the gathering writer waits for, and a signal when they have queued.
struct InFlight {
    storing: AtomicUsize,
    done: Notify,
    wanted: AtomicUsize,
    enough: Notify,
}

impl Default for InFlight {
    fn default() -> Self {
        Self {
            storing: AtomicUsize::new(0),
            done: Notify::new(),
            wanted: AtomicUsize::new(usize::MAX),
            enough: Notify::new(),
        }
    }
}

/// Counts a batch as being stored until dropped, even if storing it panics.
struct Storing(Arc<InFlight>);

impl Storing {
    fn new(flight: &Arc<InFlight>) -> Self {
        flight.storing.fetch_add(1, Ordering::SeqCst);
        Self(flight.clone())
    }
}

impl Drop for Storing {
    fn drop(&mut self) {
        self.0.storing.fetch_sub(1, Ordering::SeqCst);
        self.0.done.notify_waiters();
    }
}

/// The next batch: what has queued up, and while another batch is being stored, what comes in
/// until it is done or the batch has `GATHER` deliveries. None once the queue is closed and empty.
async fn gather(rx: &mut mpsc::Receiver<Pending>, flight: &InFlight) -> Option<Vec<Pending>> {
    let first = rx.recv().await?;
    let mut bytes = first.delivery.payload.len();
    let mut batch = vec![first];
    let full = |batch: &Vec<Pending>, bytes| batch.len() >= MAX_BATCH || bytes >= MAX_BATCH_BYTES;
    loop {
        while !full(&batch, bytes) {
            let Ok(next) = rx.try_recv() else { break };
            bytes += next.delivery.payload.len();
            batch.push(next);
        }
        if full(&batch, bytes) || batch.len() >= GATHER {
            return Some(batch);
        }
        // Registered before the checks, so that a batch finishing or deliveries queuing in
        // between are not missed.
        let done = flight.done.notified();
        let enough = flight.enough.notified();
        tokio::pin!(done, enough);
        done.as_mut().enable();
        enough.as_mut().enable();
        let wanted = GATHER - batch.len();
        flight.wanted.store(wanted, Ordering::SeqCst);
        let go = flight.storing.load(Ordering::SeqCst) == 0 || rx.is_closed();
        if !go && rx.len() < wanted {
            tokio::select! {
                _ = done => {}
                _ = enough => {}
            }
        }
        flight.wanted.store(usize::MAX, Ordering::SeqCst);
        if go {
            return Some(batch);
        }
        // Done or enough queued: take what has queued; a small batch keeps gathering only if
        // another batch is still being stored.
    }
}

async fn write(
    db: DatabaseConnection,
    rx: Arc<Mutex<mpsc::Receiver<Pending>>>,
    stored: Arc<Notify>,
    flight: Arc<InFlight>,
) {
    loop {
        let (batch, storing) = {
            let mut rx = rx.lock().await;
            let Some(batch) = gather(&mut rx, &flight).await else {
                break;
            };
            (batch, Storing::new(&flight))
        };
        let (rows, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.delivery, p.stored)).unzip();
        let results = store_batch(&db, &rows).await;
        drop(storing);
        if results.iter().any(|r| matches!(r, Ok(true))) {
            stored.notify_one();
        }
        for (reply, result) in replies.into_iter().zip(results) {
            // The request may have gone (client disconnected); the row is stored all the same.
            let _ = reply.send(result);
        }
    }
}

/// One statement for the batch; if it fails, each delivery alone, so that one row the database
/// refuses fails only its own request.
async fn store_batch(
    db: &DatabaseConnection,
    rows: &[NewDelivery],
) -> Vec<Result<bool, InboxError>> {
    match deliveries::insert_new(db, rows).await {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(e) if rows.len() == 1 => vec![Err(InboxError::Db(e.to_string()))],
        Err(e) => {
            tracing::warn!(error = %e, deliveries = rows.len(), "storing a batch failed; storing one by one");
            let mut results = Vec::with_capacity(rows.len());
            for row in rows.chunks(1) {
                results.push(match deliveries::insert_new(db, row).await {
                    Ok(stored) => Ok(stored == [true]),
                    Err(e) => Err(InboxError::Db(e.to_string())),
                });
            }
            results
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn pending(n: usize) -> Pending {
        let (stored, _) = oneshot::channel();
        Pending {
            delivery: NewDelivery {
                delivery_id: format!("d{n}"),
                event: "push".into(),
                action: None,
                installation_id: Some(1),
                hook_id: None,
                headers: serde_json::json!({}),
                payload: "{}".into(),
                status: deliveries::DeliveryStatus::Received,
            },
            stored,
        }
    }

    type Gathering = tokio::task::JoinHandle<(usize, mpsc::Receiver<Pending>)>;

    /// Hands deliveries to a gathering writer as requests do.
    struct Sender(mpsc::Sender<Pending>, Arc<InFlight>);

    impl Sender {
        async fn send(&self, pending: Pending) {
            hand_over(&self.0, &self.1, pending).await.unwrap();
        }
    }

    /// `gather` running in a task on one queued delivery, with another batch being stored (until
    /// the returned guard is dropped) when `busy`.
    async fn start_gathering(busy: bool) -> (Sender, Option<Storing>, Gathering) {
        let flight = Arc::new(InFlight::default());
        let storing = busy.then(|| Storing::new(&flight));
        let (tx, mut rx) = mpsc::channel(4 * MAX_BATCH);
        let tx = Sender(tx, flight.clone());
        tx.send(pending(0)).await;
        let gathering = tokio::spawn(async move {
            let n = gather(&mut rx, &flight).await.map_or(0, |b| b.len());
            (n, rx)
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        (tx, storing, gathering)
    }

    /// The size of the batch `gathering` gave, with the receiver.
    async fn gathered(gathering: Gathering) -> (usize, mpsc::Receiver<Pending>) {
        let gathered = tokio::time::timeout(Duration::from_secs(30), gathering).await;
        gathered.expect("the batch goes").expect("gather ran")
    }

    #[tokio::test]
    async fn with_no_batch_being_stored_a_lone_delivery_goes_at_once() {
        let (_tx, _, gathering) = start_gathering(false).await;
        assert_eq!(gathered(gathering).await.0, 1);
    }

    #[tokio::test]
    async fn a_small_batch_gathers_until_the_batch_being_stored_is_done() {
        let (tx, storing, gathering) = start_gathering(true).await;
        tx.send(pending(1)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !gathering.is_finished(),
            "still gathering while a batch is stored"
        );
        drop(storing);
        assert_eq!(
            gathered(gathering).await.0,
            2,
            "both deliveries go together once the other batch is done"
        );
    }

    #[tokio::test]
    async fn a_batch_that_reaches_the_gather_size_goes_without_waiting() {
        let (tx, _storing, gathering) = start_gathering(true).await;
        for n in 1..GATHER {
            tx.send(pending(n)).await;
        }
        let (n, mut rx) = gathered(gathering).await;
        assert_eq!(n, GATHER);
        tx.send(pending(GATHER)).await;
        assert!(
            rx.try_recv().is_ok(),
            "later deliveries are left for the next batch"
        );
    }
}
