//! The worker loop: claim a run with a lease, keep the lease alive, run it, record the outcome.
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{error::RunError, runner::Run, target::Target, SyncSettings};
use crate::{
    github::{GithubSlot, RepoName, RequestCounter},
    metrics::{Metrics, RunOutcome},
    progress::{self, Hub, ProgressEvent},
    store::{
        attempts::AttemptStatus,
        entities::sync_runs,
        projects,
        runs::{self, RunCounts},
        selections,
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

pub(super) fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
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
