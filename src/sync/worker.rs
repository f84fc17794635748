//! The worker loop: claim a run with a lease, keep the lease alive, run it, record the outcome.
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    runner::{Finished, Run, RunError, Target},
    SyncSettings,
};
use crate::{
    github::{GithubSlot, RepoName, RequestCounter},
    metrics::{Metrics, RunOutcome},
    progress::{self, Hub, ProgressEvent},
    store::{
        attempts::AttemptStatus,
        entities::sync_runs,
        outbox, projects,
        runs::{self, RunCounts},
        scope, selections,
    },
    tasks::Tasks,
};

/// What every worker shares.
#[derive(Clone)]
pub struct Workers {
    pub db: DatabaseConnection,
    pub github: GithubSlot,
    pub settings: Arc<SyncSettings>,
    /// Notified when a run is queued, so an idle worker starts at once instead of at its next poll.
    pub wake: Arc<Notify>,
    /// Notified when repositories appear, so their default branches are looked up at once.
    pub discover: Arc<Notify>,
    /// Poked after events are written, so watchers see them without waiting for its poll.
    pub hub: Hub,
    /// Counts each run's end and duration.
    pub metrics: Metrics,
}

impl Workers {
    /// Starts `settings.workers` loops; each ends when `shutdown` is cancelled.
    pub(crate) fn spawn(self, tracker: &Tasks, shutdown: &CancellationToken) {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "hubsync".into());
        for n in 0..self.settings.workers {
            let id = format!("{host}:{}:{n}", std::process::id());
            tracker.spawn(self.clone().run_loop(id, shutdown.clone()));
        }
    }

    async fn run_loop(self, worker: String, shutdown: CancellationToken) {
        // True right after a wake-up or a run: a queued run may still be in its debounce.
        let mut woken = false;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let claimed = match self.github.app() {
                None => None,
                Some(_) => match self.claim(&worker).await {
                    Ok(run) => run,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming a sync run failed");
                        None
                    }
                },
            };
            match claimed {
                Some(run) => {
                    // A push that came during this run waits out the debounce: look again then.
                    woken = true;
                    let span =
                        tracing::info_span!("sync_run", run_id = run.id, attempt = run.attempt);
                    self.process(&worker, run, &shutdown).instrument(span).await;
                }
                // Come back when that run's debounce has passed, not at the next poll.
                None if woken => {
                    woken = false;
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(self.settings.debounce) => {}
                    }
                }
                None => {
                    woken = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = self.wake.notified() => true,
                        _ = tokio::time::sleep(self.settings.poll_interval) => false,
                    };
                }
            }
        }
    }

    /// Claims a run and starts its attempt in one transaction.
    async fn claim(&self, worker: &str) -> Result<Option<sync_runs::Model>, DbErr> {
        let txn = self.db.begin().await?;
        let lease = lease(&self.settings);
        let debounce = chrono_duration(self.settings.debounce);
        let run = runs::claim(&txn, worker, lease, debounce).await?;
        txn.commit().await?;
        Ok(run)
    }

    async fn process(&self, worker: &str, run: sync_runs::Model, shutdown: &CancellationToken) {
        if let Err(e) = self.try_process(worker, &run, shutdown).await {
            tracing::error!(error = %e, "recording a sync run's outcome failed; its lease will expire and it will run again");
        }
    }

    async fn try_process(
        &self,
        worker: &str,
        run: &sync_runs::Model,
        shutdown: &CancellationToken,
    ) -> Result<(), DbErr> {
        let Some(app) = self.github.app() else {
            return Ok(());
        };
        let (target, installation_id) = match self.target(run).await? {
            Ok(t) => t,
            Err(reason) => {
                tracing::info!(reason, "run superseded");
                let counts = RunCounts::default();
                runs::finish(
                    &self.db,
                    run.id,
                    worker,
                    runs::RunStatus::Superseded,
                    &counts,
                    Some(reason),
                )
                .await?;
                self.ended(run, RunOutcome::Superseded);
                return Ok(());
            }
        };
        let from_sha = target.selection.last_synced_sha.clone();
        runs::set_from_sha(&self.db, run.id, from_sha.as_deref()).await?;
        selections::set_state(
            &self.db,
            target.selection.id,
            selections::SelectionState::Syncing,
        )
        .await?;
        let started = ProgressEvent::Started {
            run_id: run.id,
            branch: target.branch.clone(),
            trigger: run.trigger,
            from_sha: from_sha.clone(),
            target_sha: run.target_sha.clone(),
            attempt: run.attempt,
            started_at: run.started_at,
        };
        progress::record(&self.db, target.project_id, &started).await?;
        self.hub.poke();

        let counter = RequestCounter::new();
        let client = app
            .installation(installation_id)
            .with_counter(counter.clone());
        let lost = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat(
            self.db.clone(),
            run.id,
            worker.to_owned(),
            self.settings.clone(),
            lost.clone(),
        ));
        let execution = Run {
            hub: &self.hub,
            db: &self.db,
            client: &client,
            settings: &self.settings,
            run,
            worker,
            target: &target,
        };
        // What the attempt reached, kept when it fails half-way.
        let mut counts = RunCounts {
            from_sha,
            ..Default::default()
        };
        let result = tokio::select! {
            r = execution.execute(&mut counts) => Some(r),
            _ = lost.cancelled() => Some(Err(RunError::LeaseLost)),
            _ = shutdown.cancelled() => None,
        };
        heartbeat.abort();
        counts.api_requests = counter.get() as i64;
        let Some(result) = result else {
            // Hand the run back so the next start (or another replica) picks it up at once.
            let why = "interrupted by shutdown";
            let back = AttemptStatus::Interrupted;
            runs::retry_later(
                &self.db,
                run.id,
                worker,
                chrono::Duration::zero(),
                back,
                &counts,
                why,
            )
            .await?;
            return Ok(());
        };
        self.record(worker, run, &target, result, &counts).await
    }

    async fn record(
        &self,
        worker: &str,
        run: &sync_runs::Model,
        target: &Target,
        result: Result<Finished, RunError>,
        counts: &RunCounts,
    ) -> Result<(), DbErr> {
        let branch = &target.branch;
        match result {
            Ok(Finished::Synced) => {
                tracing::info!(
                    files = counts.files_total,
                    changed = counts.files_changed,
                    fetched = counts.files_fetched,
                    requests = counts.api_requests,
                    "run succeeded"
                );
                self.ended(run, RunOutcome::Succeeded);
                self.wake.notify_one();
            }
            Ok(Finished::BranchGone) => {
                let txn = scope::begin_write(&self.db, &target.scope()).await?;
                let reason = "the branch no longer exists on GitHub";
                runs::finish(
                    &txn,
                    run.id,
                    worker,
                    runs::RunStatus::Superseded,
                    counts,
                    Some(reason),
                )
                .await?;
                selections::mark_deleted(&txn, target.selection.id).await?;
                let deleted = ProgressEvent::branch_deleted(branch.clone());
                progress::record(&txn, target.project_id, &deleted).await?;
                txn.commit().await?;
                self.ended(run, RunOutcome::Superseded);
                self.hub.poke();
            }
            Err(RunError::LeaseLost) => {
                tracing::warn!("lease lost; another worker owns the run now")
            }
            Err(e) => {
                let message = e.to_string();
                let retry = e.is_transient() && run.attempt < self.settings.max_attempts;
                let txn = scope::begin_write(&self.db, &target.scope()).await?;
                let mut retry_in_ms = None;
                if retry {
                    let delay = chrono_duration(crate::backoff::delay(
                        self.settings.retry_base,
                        run.attempt.max(1) as u32,
                        std::time::Duration::from_secs(30 * 60),
                        crate::backoff::Jitter::None,
                    ));
                    tracing::warn!(error = %message, retry_in_s = delay.num_seconds(), "run failed; will retry");
                    let failed = AttemptStatus::Failed;
                    runs::retry_later(&txn, run.id, worker, delay, failed, counts, &message)
                        .await?;
                    retry_in_ms = Some(delay.num_milliseconds());
                } else {
                    tracing::error!(error = %message, "run failed");
                    runs::finish(
                        &txn,
                        run.id,
                        worker,
                        runs::RunStatus::Failed,
                        counts,
                        Some(&message),
                    )
                    .await?;
                    // The branch keeps its last good manifest.
                    selections::set_state(
                        &txn,
                        target.selection.id,
                        selections::SelectionState::Failed,
                    )
                    .await?;
                    let repository = target.repo.to_string();
                    let outcome = outbox::Outcome {
                        event: outbox::EventType::SyncFailed,
                        project_id: target.project_id,
                        repository: &repository,
                        branch,
                        run_id: run.id,
                        commit_sha: counts.target_sha.as_deref(),
                        previous_sha: counts.from_sha.as_deref(),
                        counts: Default::default(),
                        changes_cursor: None,
                        error: Some(&message),
                    };
                    outbox::enqueue(&txn, &outcome).await?;
                }
                let failed = ProgressEvent::Failed {
                    run_id: run.id,
                    branch: branch.clone(),
                    error: message,
                    will_retry: retry,
                    attempt: run.attempt,
                    from_sha: counts.from_sha.clone(),
                    target_sha: counts.target_sha.clone(),
                    files_total: counts.files_total,
                    files_changed: counts.files_changed,
                    retry_in_ms,
                };
                progress::record(&txn, target.project_id, &failed).await?;
                txn.commit().await?;
                if !retry {
                    self.ended(run, RunOutcome::Failed);
                }
                self.hub.poke();
            }
        }
        Ok(())
    }

    /// Counts a run's end (committed), with its duration from the first attempt's start.
    fn ended(&self, run: &sync_runs::Model, outcome: RunOutcome) {
        let seconds = run
            .started_at
            .map(|s| (chrono::Utc::now() - s).num_milliseconds() as f64 / 1000.0);
        self.metrics.sync_run(outcome, seconds);
    }

    /// The branch a run syncs, or why it should not run any more.
    async fn target(
        &self,
        run: &sync_runs::Model,
    ) -> Result<Result<(Target, i64), &'static str>, DbErr> {
        let Some(selection) = selections::find(&self.db, run.project_sync_id).await? else {
            return Ok(Err("the branch selection is gone"));
        };
        let Some(project) = projects::load(&self.db, selection.project_id).await? else {
            return Ok(Err("the project is gone"));
        };
        if let Some(reason) = project.stopped_because() {
            return Ok(Err(reason));
        }
        if !selection.enabled || selection.is_pattern {
            return Ok(Err("the branch is no longer selected"));
        }
        let (Ok(repo), Some(branch)) = (
            RepoName::parse(&project.repository.full_name),
            selection.branch_name(),
        ) else {
            return Ok(Err("the repository or branch name is not valid"));
        };
        let installation_id = project.installation.id;
        Ok(Ok((
            Target {
                project_id: project.project.id,
                installation_id,
                selection,
                repo,
                branch,
            },
            installation_id,
        )))
    }
}

fn lease(settings: &SyncSettings) -> chrono::Duration {
    chrono_duration(settings.lease)
}

fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Renews the lease at a third of its length; cancels `lost` when another worker took the run.
async fn heartbeat(
    db: DatabaseConnection,
    run_id: i64,
    worker: String,
    settings: Arc<SyncSettings>,
    lost: CancellationToken,
) {
    let every = settings.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        match runs::renew_lease(&db, run_id, &worker, lease(&settings)).await {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(e) => tracing::warn!(error = %e, "renewing the lease failed; trying again"),
        }
    }
}
