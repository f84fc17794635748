//! The JSON shapes the API answers with.
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    git::Sha,
    store::{
        attempts::AttemptStatus,
        entities::{project_syncs, sync_run_attempts, sync_runs},
        projects::ProjectRecord,
        runs::{RunStatus, Trigger},
        selections::SelectionState,
    },
};

#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectView {
    pub id: i64,
    pub repository: RepositoryView,
    pub installation: InstallationView,
    /// Why syncing is stopped (repository removed, installation suspended...), or null.
    #[schema(value_type = Option<String>)]
    pub stopped: Option<&'static str>,
    pub branches: Vec<BranchView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RepositoryView {
    pub id: i64,
    pub full_name: String,
    pub default_branch: String,
    pub private: bool,
    pub archived: bool,
    pub removed: bool,
    pub html_url: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct InstallationView {
    pub id: i64,
    pub account: String,
    pub suspended: bool,
    pub deleted: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct BranchView {
    pub id: i64,
    pub name: String,
    pub pattern: bool,
    pub enabled: bool,
    pub state: SelectionState,
    pub last_synced_sha: Option<Sha>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub deleted: bool,
}

/// `GET /projects`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectList {
    pub projects: Vec<ProjectView>,
}

/// Runs: the ones a manual sync queued, or a branch's history (newest first).
#[derive(Serialize, ToSchema)]
pub(crate) struct RunList {
    pub runs: Vec<RunView>,
}

impl ProjectView {
    pub fn new(p: &ProjectRecord, github_url: &url::Url) -> Self {
        let r = &p.repository;
        Self {
            id: p.project.id,
            repository: RepositoryView {
                id: r.id,
                full_name: r.full_name.clone(),
                default_branch: r.default_branch.clone(),
                private: r.private,
                archived: r.archived,
                removed: r.removed_at.is_some(),
                html_url: github_url
                    .join(&r.full_name)
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
            },
            installation: InstallationView {
                id: p.installation.id,
                account: p.installation.account_login.clone(),
                suspended: p.installation.suspended_at.is_some(),
                deleted: p.installation.deleted_at.is_some(),
            },
            stopped: p.stopped_because(),
            branches: p.selections.iter().map(BranchView::from).collect(),
        }
    }
}

impl From<&project_syncs::Model> for BranchView {
    fn from(s: &project_syncs::Model) -> Self {
        Self {
            id: s.id,
            name: s.branch.clone(),
            pattern: s.is_pattern,
            enabled: s.enabled,
            state: s.state,
            last_synced_sha: s.last_synced_sha.clone(),
            last_synced_at: s.last_synced_at,
            deleted: s.deleted_at.is_some(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RunView {
    pub id: i64,
    pub branch: String,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub from_sha: Option<Sha>,
    pub target_sha: Option<Sha>,
    pub attempt: i32,
    pub files_total: i64,
    pub files_changed: i64,
    pub files_fetched: i64,
    pub bytes_fetched: i64,
    pub api_requests: i64,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// From the first attempt's start to the end, waits between attempts included.
    pub duration_ms: Option<i64>,
    /// The last attempt's error; each attempt's is in `attempts`.
    pub error: Option<String>,
    pub attempts: Vec<AttemptView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AttemptView {
    pub attempt: i32,
    pub status: AttemptStatus,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub files_fetched: i64,
    pub bytes_fetched: i64,
    pub api_requests: i64,
}

impl From<sync_run_attempts::Model> for AttemptView {
    fn from(a: sync_run_attempts::Model) -> Self {
        Self {
            attempt: a.attempt,
            status: a.status,
            worker: a.worker,
            duration_ms: a.finished_at.map(|f| (f - a.started_at).num_milliseconds()),
            started_at: a.started_at,
            finished_at: a.finished_at,
            error: a.error,
            files_fetched: a.files_fetched,
            bytes_fetched: a.bytes_fetched,
            api_requests: a.api_requests,
        }
    }
}

impl RunView {
    pub fn new(
        run: sync_runs::Model,
        branch: &str,
        attempts: Vec<sync_run_attempts::Model>,
    ) -> Self {
        let duration_ms = run
            .started_at
            .zip(run.finished_at)
            .map(|(s, f)| (f - s).num_milliseconds());
        Self {
            id: run.id,
            branch: branch.to_owned(),
            trigger: run.trigger,
            status: run.status,
            from_sha: run.from_sha,
            target_sha: run.target_sha,
            attempt: run.attempt,
            files_total: run.files_total,
            files_changed: run.files_changed,
            files_fetched: run.files_fetched,
            bytes_fetched: run.bytes_fetched,
            api_requests: run.api_requests,
            queued_at: run.queued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_ms,
            error: run.error,
            attempts: attempts.into_iter().map(AttemptView::from).collect(),
        }
    }
}
