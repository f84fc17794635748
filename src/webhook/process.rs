//! The background processor: walks the stored deliveries in id order, handles each (in order
//! per installation) in the transaction that also records its outcome (up to 16 deliveries share
//! one), and retries failures a bounded number of times.
//! Deliveries left over by a crash or a stop are simply still `received`, so a restart picks
//! them up.
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

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
    walk::{Pass, Walk},
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
/// Deliveries handled per transaction: they share the commit (an fsync on PostgreSQL) and the
/// claim and finish statements. On SQLite a transaction holds the one connection the inbox writes
/// through, so there a chunk is this long only while no request waits for the inbox; otherwise
/// each delivery goes alone (chunks of 4 then processed 141/s instead of 27/s during a 64-sender
/// flood, but took 14% of intake's throughput and raised its p99 from 12 to 15-20 ms). Alone
/// always, a SQLite delivery cost ~19 statements with the pass's look-ups and the nudge's, and
/// draining a backlog ran at ~1,100/s.
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
        let mut walk = Walk::default();
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
                if chunk.len() >= self.per_transaction() {
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

    /// How long a chunk may be now.
    fn per_transaction(&self) -> usize {
        match self.db.get_database_backend() {
            DatabaseBackend::Sqlite if !self.ingest.is_quiet() => 1,
            _ => PER_TRANSACTION,
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
        tokio::spawn(async move {
            match this.process(&chunk, Savepoints::Skip).await? {
                Some(handled) => Ok(handled),
                // Rare (a delivery failed): the chunk again, each attempt in a savepoint.
                None => Ok(this
                    .process(&chunk, Savepoints::Each)
                    .await?
                    .unwrap_or_default()),
            }
        })
        .await
    }

    /// Handles the chunk's deliveries in order in one transaction: it shares the commit (an
    /// fsync on PostgreSQL), the claim, the finish and the round trips around them. A delivery
    /// whose installation has an earlier one in the chunk that is not done is left waiting. For
    /// each: see `process_one`. None when a delivery failed with `Savepoints::Skip`: nothing of
    /// the chunk is kept, and it is to be handled again with `Savepoints::Each`.
    async fn process(
        &self,
        chunk: &[deliveries::Waiting],
        savepoints: Savepoints,
    ) -> Result<Option<Vec<Option<bool>>>, DbErr> {
        let txn = crate::store::begin_write(&self.db).await?;
        let ids: Vec<i64> = chunk.iter().map(|w| w.id).collect();
        let mut claimed: HashMap<i64, deliveries::Claimed> = deliveries::claim(&txn, &ids)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let mut held = HashSet::new();
        let mut finished = Finished::default();
        let mut handled = Vec::with_capacity(chunk.len());
        for w in chunk {
            let done = match (w.installation_id, claimed.remove(&w.id)) {
                (Some(i), _) if held.contains(&i) => None,
                (_, None) => None,
                (_, Some(c)) => match self.process_one(&txn, c, savepoints, &mut finished).await? {
                    Some(done) => Some(done),
                    None => {
                        txn.rollback().await?;
                        return Ok(None);
                    }
                },
            };
            if done != Some(true) {
                held.extend(w.installation_id);
            }
            handled.push(done);
        }
        finished.record(&txn).await?;
        txn.commit().await?;
        if handled.iter().any(Option::is_some) {
            self.sync.nudge.nudge();
            self.passes.done();
        }
        Ok(Some(handled))
    }

    /// Handles a claimed delivery. `Some(true)` when it is done with (processed, ignored or
    /// failed for good: added to `finished`), `Some(false)` when it waits for a retry, None when
    /// it failed with `Savepoints::Skip`.
    async fn process_one(
        &self,
        txn: &DatabaseTransaction,
        claimed: deliveries::Claimed,
        savepoints: Savepoints,
        finished: &mut Finished,
    ) -> Result<Option<bool>, DbErr> {
        let span = tracing::info_span!(
            "delivery",
            delivery_id = %claimed.delivery_id,
            event = %claimed.event,
            attempt = claimed.attempts
        );
        async {
            let handled = match savepoints {
                Savepoints::Skip => self.handle(txn, &claimed).await,
                // A savepoint: a failed attempt leaves no partial effect, yet its failure is
                // recorded in the same transaction that holds the claim.
                Savepoints::Each => {
                    let attempt = txn.begin().await?;
                    let handled = self.handle(&attempt, &claimed).await;
                    match handled {
                        Ok(_) => attempt.commit().await?,
                        Err(_) => attempt.rollback().await?,
                    }
                    handled
                }
            };
            match handled {
                Ok(outcome) => {
                    let (status, note) = match outcome {
                        Outcome::Processed => (DeliveryStatus::Processed, None),
                        Outcome::Ignored(why) => (DeliveryStatus::Ignored, Some(why.to_owned())),
                    };
                    tracing::info!(status = status.as_str(), "delivery handled");
                    finished.add(claimed.id, status, note);
                    Ok(Some(true))
                }
                Err(_) if savepoints == Savepoints::Skip => Ok(None),
                Err(e) => {
                    let error = e.to_string();
                    if claimed.attempts >= self.config.max_attempts as i32 {
                        tracing::error!(%error, "delivery failed; giving up");
                        finished.add(claimed.id, DeliveryStatus::Failed, Some(error));
                        Ok(Some(true))
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
                        Ok(Some(false))
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// What the stored delivery means, parsed again from its payload.
    async fn handle(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        claimed: &deliveries::Claimed,
    ) -> Result<Outcome, HandleError> {
        let name =
            EventName::parse(&claimed.event).map_err(|e| HandleError::Unreadable(e.to_string()))?;
        let event = Event::parse(&name, &claimed.payload)
            .map_err(|e| HandleError::Unreadable(super::ingest::describe(&e)))?;
        handle(db, self.sync.auto_select, event).await
    }
}

/// Whether each delivery's attempt runs in a savepoint of its own. Two statements per delivery,
/// so a chunk goes without at first; should a delivery fail, the chunk is rolled back and
/// handled again with them, and only the failed attempt is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Savepoints {
    Skip,
    Each,
}

/// The chunk's deliveries that are done with, by how they ended: each group is finished in one
/// statement when the chunk commits (a chunk of pushes is one group).
#[derive(Default)]
struct Finished(Vec<(DeliveryStatus, Option<String>, Vec<i64>)>);

impl Finished {
    fn add(&mut self, id: i64, status: DeliveryStatus, note: Option<String>) {
        match self
            .0
            .iter_mut()
            .find(|(s, n, _)| *s == status && *n == note)
        {
            Some((_, _, ids)) => ids.push(id),
            None => self.0.push((status, note, vec![id])),
        }
    }

    async fn record(self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let now = Utc::now();
        for (status, note, ids) in self.0 {
            deliveries::finish(txn, &ids, status, note.as_deref(), now).await?;
        }
        Ok(())
    }
}
