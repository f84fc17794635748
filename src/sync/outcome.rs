//! Recording how a run's attempt ended: the run and its branch, the progress events, the outbox
//! notice of a failure, and the metrics.
use sea_orm::DbErr;

use super::{error::RunError, runner::Finished, target::Target, worker::Workers};
use crate::{
    metrics::RunOutcome,
    progress::{self, ProgressEvent},
    store::{
        attempts::AttemptStatus,
        entities::sync_runs,
        outbox,
        runs::{self, RunCounts},
        scope, selections,
    },
};

impl Workers {
    /// Records how an attempt ended: the run's and branch's state, its events, the outbox.
    pub(super) async fn record(
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
                    let delay = super::worker::chrono_duration(crate::backoff::delay(
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
    pub(super) fn ended(&self, run: &sync_runs::Model, outcome: RunOutcome) {
        let seconds = run
            .started_at
            .map(|s| (chrono::Utc::now() - s).num_milliseconds() as f64 / 1000.0);
        self.metrics.sync_run(outcome, seconds);
    }
}
