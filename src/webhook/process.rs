//! The background processor: walks the stored deliveries in id order, handles each (in order
//! per installation) in the transaction that also records its outcome (on PostgreSQL several
//! deliveries share one, each in a savepoint), and retries failures a bounded number of times.
//! Deliveries left over by a crash or a stop are simply still `received`, so a restart picks
//! them up.
use std::{collections::HashSet, sync::Arc, time::Duration};

use chrono::Utc;
use sea_orm::{DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    events::Event,
    handle::{handle, HandleError, Outcome},
    headers::EventName,
    inbox::Waiting,
    WebhookConfig,
};
use crate::{
    metrics::Passes,
    store::deliveries::{self, DeliveryStatus},
    sync::{AutoSelect, Nudge},
};

/// How often the processor looks for work it was not woken for (another process stored it).
const POLL: Duration = Duration::from_secs(2);
/// Waiting deliveries read per query.
const PAGE: u64 = 64;
/// Deliveries handled per transaction on PostgreSQL, where a commit waits for an fsync and each
/// statement for a round trip. On SQLite each goes alone: a transaction holds the one connection
/// the inbox writes through.
const PER_TRANSACTION: usize = 16;
/// Retries never wait longer than this.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub(crate) struct Processor {
    db: DatabaseConnection,
    config: WebhookConfig,
    wakeup: Arc<Notify>,
    /// Requests waiting for the inbox go first.
    ingest: Waiting,
    sync: SyncHandoff,
    /// Counted after each commit that handled a delivery.
    passes: Passes,
}

/// What the processor tells the sync layer besides the signals themselves.
#[derive(Clone)]
pub(crate) struct SyncHandoff {
    pub auto_select: AutoSelect,
    /// Nudged after each processed delivery: runs may be queued and events written.
    pub nudge: Nudge,
}

impl Processor {
    pub fn new(
        db: DatabaseConnection,
        config: WebhookConfig,
        wakeup: Arc<Notify>,
        ingest: Waiting,
        sync: SyncHandoff,
        passes: Passes,
    ) -> Self {
        Self {
            db,
            config,
            wakeup,
            ingest,
            sync,
            passes,
        }
    }

    /// Runs until `shutdown` is cancelled. A delivery being handled is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!("webhook processor started");
        while !shutdown.is_cancelled() {
            let idle = match self.pass(&shutdown).await {
                Ok(Pass::Handled) => continue,
                Ok(Pass::Nothing) => self.idle_time().await,
                Ok(Pass::Panicked) => POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook processor cannot reach the database");
                    POLL
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wakeup.notified() => {}
                _ = tokio::time::sleep(idle) => {}
            }
        }
        tracing::info!("webhook processor stopped");
    }

    /// Until the next retry is due, at most one poll interval.
    async fn idle_time(&self) -> Duration {
        let now = Utc::now();
        match deliveries::next_retry_at(&self.db, now).await {
            Ok(Some(due)) => (due - now).to_std().unwrap_or_default().min(POLL),
            _ => POLL,
        }
    }

    /// One walk over the waiting deliveries, handling each that is due unless an earlier one of
    /// its installation is still waiting (due later, failed this time, or held by another
    /// process). Deliveries without an installation wait for nothing.
    pub async fn pass(&self, shutdown: &CancellationToken) -> Result<Pass, DbErr> {
        let now = Utc::now();
        let mut walk = Walk {
            blocked: HashSet::new(),
            result: Pass::Nothing,
        };
        let per_transaction = match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => 1,
            _ => PER_TRANSACTION,
        };
        let mut after = 0;
        loop {
            let page = deliveries::waiting(&self.db, after, PAGE).await?;
            let mut chunk = Vec::new();
            for w in &page {
                if shutdown.is_cancelled() {
                    return Ok(walk.result);
                }
                if walk.is_blocked(w) {
                    continue;
                }
                if !w.is_due(now) {
                    walk.block(w);
                    continue;
                }
                chunk.push(w.clone());
                // Whole chunks under a burst too: the processor defers to the burst before each
                // chunk, and going one at a time then meant a commit (an fsync) per delivery and
                // 20 ms of deferring for each, so PostgreSQL processed ~250/s under a flood.
                if chunk.len() >= per_transaction {
                    self.process_isolated(std::mem::take(&mut chunk), &mut walk)
                        .await?;
                }
            }
            if !chunk.is_empty() {
                self.process_isolated(chunk, &mut walk).await?;
            }
            match page.last() {
                Some(last) if page.len() as u64 == PAGE => after = last.id,
                _ => return Ok(walk.result),
            }
        }
    }

    /// `process` in its own task, so that a bug that panics rolls the chunk back and leaves the
    /// processor running. A chunk that panicked is handled again one delivery at a time, so that
    /// only the delivery that panics is held back.
    async fn process_isolated(
        &self,
        chunk: Vec<deliveries::Waiting>,
        walk: &mut Walk,
    ) -> Result<(), DbErr> {
        // On SQLite the processor's transaction holds the one connection the inbox writes
        // through; on either engine it takes CPU from answering.
        self.ingest.defer().await;
        let alone = chunk.len() == 1;
        match self.spawn_process(chunk.clone()).await {
            Ok(handled) => walk.record(&chunk, handled?),
            Err(_) if !alone => {
                tracing::warn!(
                    deliveries = chunk.len(),
                    "webhook processor panicked in a chunk; handling it one delivery at a time"
                );
                for w in chunk {
                    if walk.is_blocked(&w) {
                        continue;
                    }
                    self.ingest.defer().await;
                    match self.spawn_process(vec![w.clone()]).await {
                        Ok(handled) => walk.record(&[w], handled?),
                        Err(panic) => walk.panicked(&w, panic),
                    }
                }
            }
            Err(panic) => walk.panicked(&chunk[0], panic),
        }
        Ok(())
    }

    async fn spawn_process(
        &self,
        chunk: Vec<deliveries::Waiting>,
    ) -> Result<Result<Vec<Option<bool>>, DbErr>, tokio::task::JoinError> {
        let this = self.clone();
        tokio::spawn(async move { this.process(&chunk).await }).await
    }

    /// Handles the chunk's deliveries in order in one transaction: it shares the commit (an
    /// fsync on PostgreSQL) and the round trips around it. A delivery whose installation has an
    /// earlier one in the chunk that is not done is left waiting. For each: see `process_one`.
    async fn process(&self, chunk: &[deliveries::Waiting]) -> Result<Vec<Option<bool>>, DbErr> {
        let txn = crate::store::begin_write(&self.db).await?;
        let mut held = HashSet::new();
        let mut handled = Vec::with_capacity(chunk.len());
        for w in chunk {
            let done = match w.installation_id {
                Some(i) if held.contains(&i) => None,
                _ => self.process_one(&txn, w.id).await?,
            };
            if done != Some(true) {
                held.extend(w.installation_id);
            }
            handled.push(done);
        }
        txn.commit().await?;
        if handled.iter().any(Option::is_some) {
            self.sync.nudge.nudge();
            self.passes.done();
        }
        Ok(handled)
    }

    /// Handles delivery `id` if it can still be claimed. `Some(true)` when it is done with
    /// (processed, ignored or failed for good), `Some(false)` when it waits for a retry, `None`
    /// when it was not claimed (gone, or held by another process).
    async fn process_one(&self, txn: &DatabaseTransaction, id: i64) -> Result<Option<bool>, DbErr> {
        let Some(claimed) = deliveries::claim(txn, id).await? else {
            return Ok(None);
        };
        let span = tracing::info_span!(
            "delivery",
            delivery_id = %claimed.delivery_id,
            event = %claimed.event,
            attempt = claimed.attempts
        );
        let done = async {
            // A savepoint: a failed attempt leaves no partial effect, yet its failure is recorded
            // in the same transaction that holds the claim.
            let attempt = txn.begin().await?;
            let done = match handle_stored(
                &attempt,
                self.sync.auto_select,
                &claimed.event,
                &claimed.payload,
            )
            .await
            {
                Ok(outcome) => {
                    attempt.commit().await?;
                    let (status, note) = match outcome {
                        Outcome::Processed => (DeliveryStatus::Processed, None),
                        Outcome::Ignored(why) => (DeliveryStatus::Ignored, Some(why)),
                    };
                    deliveries::finish(txn, claimed.id, status, note, Utc::now()).await?;
                    tracing::info!(status = status.as_str(), "delivery handled");
                    true
                }
                Err(e) => {
                    attempt.rollback().await?;
                    let error = e.to_string();
                    if claimed.attempts >= self.config.max_attempts as i32 {
                        tracing::error!(%error, "delivery failed; giving up");
                        deliveries::finish(
                            txn,
                            claimed.id,
                            DeliveryStatus::Failed,
                            Some(&error),
                            Utc::now(),
                        )
                        .await?;
                        true
                    } else {
                        let delay = crate::backoff::delay(
                            self.config.retry_delay,
                            claimed.attempts.max(1) as u32,
                            MAX_RETRY_DELAY,
                            crate::backoff::Jitter::None,
                        );
                        tracing::warn!(%error, retry_in = ?delay, "delivery failed; will retry");
                        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                        deliveries::retry_later(txn, claimed.id, &error, at).await?;
                        false
                    }
                }
            };
            Ok::<_, DbErr>(done)
        }
        .instrument(span)
        .await?;
        Ok(Some(done))
    }
}

/// What a pass has found so far: the installations whose later deliveries must wait, and what
/// the run loop must know.
struct Walk {
    blocked: HashSet<i64>,
    result: Pass,
}

impl Walk {
    fn is_blocked(&self, w: &deliveries::Waiting) -> bool {
        w.installation_id.is_some_and(|i| self.blocked.contains(&i))
    }

    fn block(&mut self, w: &deliveries::Waiting) {
        self.blocked.extend(w.installation_id);
    }

    fn record(&mut self, chunk: &[deliveries::Waiting], handled: Vec<Option<bool>>) {
        for (w, done) in chunk.iter().zip(handled) {
            if done.is_some() {
                self.result = self.result.max(Pass::Handled);
            }
            if done != Some(true) {
                self.block(w);
            }
        }
    }

    fn panicked(&mut self, w: &deliveries::Waiting, panic: tokio::task::JoinError) {
        tracing::error!(error = %panic, "webhook processor panicked on a delivery");
        self.result = Pass::Panicked;
        self.block(w);
    }
}

/// What a pass did, in increasing order of what the run loop must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pass {
    /// Nothing was due.
    Nothing,
    /// At least one delivery was handled: look again at once.
    Handled,
    /// A delivery panicked: wait a poll interval before trying it again.
    Panicked,
}

async fn handle_stored(
    db: &impl sea_orm::ConnectionTrait,
    auto_select: AutoSelect,
    event: &str,
    payload: &str,
) -> Result<Outcome, HandleError> {
    let name = EventName::parse(event).map_err(|e| HandleError::Unreadable(e.to_string()))?;
    let event = Event::parse(&name, payload)
        .map_err(|e| HandleError::Unreadable(super::ingest::describe(&e)))?;
    handle(db, auto_select, event).await
}
