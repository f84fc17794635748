//! The run history table on the project page, and how a waiting run is described (there and on
//! the run page): "retrying 3/5 in 8 s" with the reason.
use std::collections::HashMap;

use chrono::Utc;
use maud::{html, Markup};

use super::layout::{duration, short, until};
use crate::{
    ids::{ProjectId, RunId},
    store::{
        entities::{sync_run_attempts, sync_runs},
        runs::RunStatus,
    },
};

pub fn run_path(project_id: ProjectId, run_id: RunId) -> String {
    format!("/projects/{project_id}/runs/{run_id}")
}

/// A queued run that failed before and waits out its backoff: "retrying 2/5 in 8 s".
pub fn waiting(run: &sync_runs::Model, max_attempts: i32) -> Option<Markup> {
    let at = run
        .not_before
        .filter(|_| run.status == RunStatus::Queued && run.attempt > 0)?;
    let next = run.attempt + 1;
    Some(html! {
        span.wait { "retrying " (next) "/" (max_attempts) " " (until(at)) }
    })
}

/// The table app.js extends with runs that start after the page loaded (cell classes are what it
/// fills in).
pub fn table(
    project_id: i64,
    history: &[sync_runs::Model],
    branch_of: &dyn Fn(i64) -> String,
    tries: &HashMap<i64, Vec<sync_run_attempts::Model>>,
    max_attempts: i32,
) -> Markup {
    html! {
        div.table-wrap {
            table.runs data-project=(project_id) data-max-attempts=(max_attempts) {
                thead { tr {
                    th { "#" } th { "Branch" } th.opt { "Trigger" } th { "Status" } th.opt { "From → to" }
                    th.opt { "Changed" } th.opt { "Fetched" } th.opt { "Requests" } th { "Duration" } th { "Error" }
                } }
                tbody {
                    @for r in history {
                        tr data-run=(r.id) {
                            td.run { a href=(run_path(ProjectId(project_id), RunId(r.id))) { (r.id) } }
                            td.branch { (branch_of(r.project_sync_id)) }
                            td.trigger.opt { (r.trigger) }
                            td.status {
                                span.state data-state=(r.status) { (r.status) }
                                span.waiting { @if let Some(w) = waiting(r, max_attempts) { " " (w) } }
                            }
                            td.shas.opt { code { (r.from_sha.as_deref().map(short).unwrap_or("—")) } " → " code { (r.target_sha.as_deref().map(short).unwrap_or("head")) } }
                            td.changed.opt { (r.files_changed) " / " (r.files_total) }
                            td.fetched.opt { (r.files_fetched) }
                            td.requests.opt { (r.api_requests) }
                            td.duration { (r.started_at.zip(r.finished_at).map(|(s, f)| format!("{} ms", (f - s).num_milliseconds())).unwrap_or_default()) }
                            td.error {
                                (r.error.as_deref().unwrap_or(""))
                                @if let Some(list) = tries.get(&r.id).filter(|l| l.len() > 1) {
                                    details.attempts {
                                        summary { (list.len()) " attempts" }
                                        ol { @for a in list { li { (attempt_line(a)) } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `failed · 1200 ms · GitHub answered 502 ...`
pub fn attempt_line(a: &sync_run_attempts::Model) -> String {
    let mut line = a.status.as_str().to_owned();
    if let Some(f) = a.finished_at {
        line.push_str(" · ");
        line.push_str(&duration(f - a.started_at));
    } else {
        line.push_str(" · for ");
        line.push_str(&duration(Utc::now() - a.started_at));
    }
    if let Some(e) = &a.error {
        line.push_str(" · ");
        line.push_str(e);
    }
    line
}
