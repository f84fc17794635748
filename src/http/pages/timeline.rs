//! A run's timeline: queued, each attempt (started, files fetched, how it ended and when the next
//! one was due), finished. Built from the run and its attempt rows (kept with the run), with the
//! run's progress events where they are still kept (they are pruned after a while).
use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::layout::{ago, duration, seconds, short, until};
use crate::{
    progress::ProgressEvent,
    store::{
        attempts::AttemptStatus,
        entities::{sync_run_attempts, sync_runs},
        runs::RunStatus,
    },
};

/// "1 file", "3 files".
fn plural(n: i64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

struct Entry {
    at: DateTime<Utc>,
    kind: &'static str,
    text: Markup,
}

pub fn timeline(
    run: &sync_runs::Model,
    tries: &[sync_run_attempts::Model],
    events: &[(DateTime<Utc>, ProgressEvent)],
    max_attempts: i32,
) -> Markup {
    let mut entries = vec![Entry {
        at: run.queued_at,
        kind: "queued",
        text: html! { "Queued (" (run.trigger) ")" },
    }];
    for (at, e) in events {
        if let ProgressEvent::Queued {
            coalesced: true,
            target_sha,
            ..
        } = e
        {
            let to = target_sha.as_deref().map(short).unwrap_or("the head");
            entries.push(Entry {
                at: *at,
                kind: "coalesced",
                text: html! { "A push to " code { (to) } " was folded into this run" },
            });
        }
    }
    for (i, a) in tries.iter().enumerate() {
        entries.push(Entry {
            at: a.started_at,
            kind: "started",
            text: html! { "Attempt " (a.attempt) "/" (max_attempts) " started" },
        });
        let end = a.finished_at.unwrap_or_else(Utc::now);
        let fetched = events.iter().rev().find_map(|(at, e)| match e {
            ProgressEvent::Progress { done, total, .. } if *at >= a.started_at && *at <= end => {
                Some((*at, *done, *total))
            }
            _ => None,
        });
        // A finished attempt says what it fetched itself.
        if let Some((at, done, total)) = fetched.filter(|_| a.status != AttemptStatus::Succeeded) {
            entries.push(Entry {
                at,
                kind: "progress",
                text: html! { "Fetched " (done) " of " (total) " files" },
            });
        }
        let Some(finished) = a.finished_at else {
            continue;
        };
        let took = duration(finished - a.started_at);
        let (kind, text) = match a.status {
            AttemptStatus::Succeeded => (
                "succeeded",
                html! { "Attempt " (a.attempt) " succeeded in " (took) ": fetched " (plural(a.files_fetched, "file")) " with " (plural(a.api_requests, "request")) },
            ),
            AttemptStatus::Interrupted => (
                "interrupted",
                html! { "Attempt " (a.attempt) " was interrupted by a shutdown after " (took) "; it runs again at once" },
            ),
            AttemptStatus::Abandoned => (
                "abandoned",
                html! { "Attempt " (a.attempt) " was abandoned: its worker stopped" },
            ),
            AttemptStatus::Superseded => (
                "superseded",
                html! { "Attempt " (a.attempt) " had nothing to do: " (a.error.as_deref().unwrap_or("superseded")) },
            ),
            AttemptStatus::Failed | AttemptStatus::Running => (
                "failed",
                html! { "Attempt " (a.attempt) " failed after " (took) ": " (a.error.as_deref().unwrap_or("no reason recorded")) },
            ),
        };
        entries.push(Entry {
            at: finished,
            kind,
            text,
        });
        if a.status != AttemptStatus::Failed {
            continue;
        }
        // The next attempt's wait: when it started, or when the queued run may start.
        let next = a.attempt + 1;
        match (tries.get(i + 1), run.not_before) {
            (Some(n), _) => {
                let wait = seconds((n.started_at - finished).num_seconds());
                entries.push(Entry {
                    at: finished,
                    kind: "retry",
                    text: html! { "Retrying " (next) "/" (max_attempts) " in " (wait) },
                });
            }
            (None, Some(at)) if run.status == RunStatus::Queued => {
                entries.push(Entry {
                    at: finished,
                    kind: "retry",
                    text: html! { "Retrying " (next) "/" (max_attempts) " " (until(at)) },
                });
            }
            _ => {}
        }
    }
    if let Some(at) = run.finished_at {
        let took = run.started_at.map(|s| duration(at - s));
        entries.push(Entry {
            at,
            kind: "finished",
            text: html! {
                "Finished: " span.state data-state=(run.status) { (run.status) }
                @if let Some(t) = took { " after " (t) }
                @if let Some(e) = run.error.as_deref().filter(|_| run.status != RunStatus::Succeeded) { " · " (e) }
            },
        });
    }
    entries.sort_by_key(|e| e.at);
    html! {
        ol.timeline {
            @for e in &entries {
                li data-kind=(e.kind) { (ago(Some(e.at))) " " span.what { (e.text) } }
            }
        }
    }
}
