//! Group commit for deliveries. Every `202` waits for its delivery to be durably stored, and a
//! commit costs about the same for one row as for a hundred (one fsync on PostgreSQL; SQLite has
//! one writer). So requests hand their delivery to one writer task, which stores whatever has
//! queued up while the previous batch was committing in one statement, then answers each.
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::task::TaskTracker;

use crate::store::deliveries::{self, NewDelivery};

/// At most this many deliveries in one statement (13 parameters each, well under SQLite's limit).
const MAX_BATCH: usize = 256;
/// Or this many payload bytes: a batch of large pushes is committed sooner.
const MAX_BATCH_BYTES: usize = 8 << 20;

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
}

impl Inbox {
    /// Starts the writer. It ends once every `Inbox` clone is dropped (the HTTP server stopped),
    /// after storing what was queued. `stored` is notified after each batch with a new delivery.
    pub fn start(db: DatabaseConnection, stored: Arc<Notify>, tasks: &TaskTracker) -> Self {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tasks.spawn(write(db, rx, stored));
        Self { queue }
    }

    /// Stores the delivery unless its delivery id is stored already; true when it was new.
    pub async fn store(&self, delivery: NewDelivery) -> Result<bool, InboxError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(Pending {
                delivery,
                stored: tx,
            })
            .await
            .map_err(|_| InboxError::Closed)?;
        rx.await.map_err(|_| InboxError::Closed)?
    }
}

async fn write(db: DatabaseConnection, mut rx: mpsc::Receiver<Pending>, stored: Arc<Notify>) {
    while let Some(first) = rx.recv().await {
        let mut bytes = first.delivery.payload.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            let Ok(next) = rx.try_recv() else { break };
            bytes += next.delivery.payload.len();
            batch.push(next);
        }
        let (rows, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.delivery, p.stored)).unzip();
        let results = store_batch(&db, &rows).await;
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
