//! Recovering deliveries GitHub could not make (hubsync down, a network failure): read the app
//! webhook's delivery log newest first, back to where the last pass ended, and ask GitHub to
//! redeliver each failed delivery whose GUID the delivery log does not hold. GitHub redelivers
//! with the same GUID, so a delivery that did arrive meanwhile is stored once anyway.
//!
//! Bounded per pass (pages read, redeliveries asked); a rate limit stops the pass and pauses it
//! for every replica; a GUID is claimed in `webhook_redeliveries` before GitHub is asked, so two
//! replicas never ask for the same one, and one that keeps failing is asked at most three times.
use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use sea_orm::DbErr;
use url::Url;

use super::{leased, pause_for, Healing, PASS_BUDGET};
use crate::{
    github::{GithubApp, GithubError, HookDelivery},
    store::{
        entities::background_passes,
        passes::{Cursor, Finished, PassKind},
        redeliveries::{self, Failed},
    },
};

/// Deliveries per page (GitHub's maximum).
const PER_PAGE: u32 = 100;
/// Pages read per pass: a longer backlog is read on by the next pass from where this one stopped.
const MAX_PAGES: usize = 10;
/// Redeliveries asked per pass (reached, the listing stops after the page in hand).
const MAX_REDELIVERIES: usize = 100;
/// GitHub redelivers deliveries of the last three days only.
const LOOKBACK: Duration = Duration::days(3);
/// Redelivery requests per GUID at most, at least this far apart.
const MAX_REQUESTS: i32 = 3;
const MIN_GAP: Duration = Duration::minutes(10);

/// One pass; None when another replica holds the lease or a rate-limit pause is on.
pub async fn pass(h: &Healing, app: &Arc<GithubApp>) -> Result<Option<Finished>, DbErr> {
    if h.github.webhook_secrets().is_empty() {
        // Every redelivery would be refused (503) until a secret is configured.
        return Ok(None);
    }
    leased(h, PassKind::Redelivery, |row| async move {
        match run(h, app, row).await {
            Ok(f) => f,
            Err(e) => Finished {
                outcome: "failed".into(),
                error: Some(e.to_string()),
                ..Default::default()
            },
        }
    })
    .await
}

/// What the listing found, and where the cursor stands if every candidate is asked for.
struct Walk {
    candidates: Vec<HookDelivery>,
    cursor: Cursor,
    pages: usize,
    /// The listing stopped early: a rate limit (with the pause) or another GitHub error.
    stopped: Option<GithubError>,
}

async fn run(
    h: &Healing,
    app: &GithubApp,
    row: background_passes::Model,
) -> Result<Finished, DbErr> {
    let now = Utc::now();
    let deadline = tokio::time::Instant::now() + PASS_BUDGET;
    let before = Cursor {
        newest_seen: row.newest_seen,
        resume_url: row.resume_url,
        resume_newest: row.resume_newest,
    };
    let walk = walk(h, app, before.clone(), now, deadline).await?;
    let mut requested = 0i64;
    let mut refused = 0i64;
    let mut stopped = walk.stopped;
    let mut out_of_time = false;
    // Oldest first: an installation's deliveries are processed in the order they arrive.
    for d in walk.candidates.iter().rev() {
        if stopped.as_ref().is_some_and(|e| pause_for(e).is_some()) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            out_of_time = true;
            break;
        }
        let failed = Failed {
            guid: d.guid.clone(),
            github_delivery_id: d.id,
            event: d.event.clone(),
            action: d.action.clone(),
            installation_id: d.installation_id,
            status_code: d.status_code,
        };
        if !redeliveries::claim(&h.db, &failed, now, MAX_REQUESTS, MIN_GAP).await? {
            continue;
        }
        match app.redeliver(d.id).await {
            Ok(()) => {
                redeliveries::record_answer(&h.db, &d.guid, None).await?;
                requested += 1;
                tracing::info!(
                    guid = %d.guid, github_delivery_id = d.id, event = %d.event,
                    action = d.action.as_deref().unwrap_or(""), installation_id = d.installation_id,
                    status_code = d.status_code, "redelivery requested"
                );
            }
            Err(e) if pause_for(&e).is_some() => {
                redeliveries::release(&h.db, &d.guid, now, MIN_GAP).await?;
                tracing::warn!(guid = %d.guid, error = %e, "redelivery stopped by GitHub's rate limit");
                stopped = Some(e);
            }
            Err(e) => {
                redeliveries::record_answer(&h.db, &d.guid, Some(e.to_string())).await?;
                refused += 1;
                tracing::warn!(guid = %d.guid, github_delivery_id = d.id, error = %e, "redelivery refused");
            }
        }
    }
    let not_before = stopped.as_ref().and_then(pause_for);
    // The cursor moves on only when nothing found is left to ask for; otherwise the next pass
    // reads the same range again (claimed GUIDs are skipped).
    let cursor = if not_before.is_some() || out_of_time {
        before
    } else {
        walk.cursor
    };
    let mut outcome = format!(
        "{requested} redeliveries requested from {} failed deliveries ({} pages read)",
        walk.candidates.len(),
        walk.pages
    );
    if refused > 0 {
        outcome.push_str(&format!("; {refused} refused by GitHub"));
    }
    if out_of_time {
        outcome.push_str("; out of time, the rest is for the next pass");
    }
    if let Some(at) = not_before {
        outcome.push_str(&format!(
            "; rate limited until {}",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    Ok(Finished {
        outcome,
        error: stopped.map(|e| e.to_string()),
        actions: requested,
        not_before,
        cursor: Some(cursor),
    })
}

/// Reads the delivery log from the cursor: the failed deliveries whose GUID is not stored, newest
/// first, one per GUID.
async fn walk(
    h: &Healing,
    app: &GithubApp,
    mut cursor: Cursor,
    now: DateTime<Utc>,
    deadline: tokio::time::Instant,
) -> Result<Walk, DbErr> {
    let mut candidates: Vec<HookDelivery> = Vec::new();
    let mut guids = HashSet::new();
    let mut pages = 0;
    loop {
        let resuming = cursor.resume_url.is_some();
        let mut url: Option<Url> = cursor
            .resume_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        let mut top = cursor.resume_newest;
        let mark = cursor.newest_seen;
        let mut complete = false;
        while pages < MAX_PAGES
            && candidates.len() < MAX_REDELIVERIES
            && tokio::time::Instant::now() < deadline
        {
            let page = match app.hook_deliveries(url.as_ref(), PER_PAGE).await {
                Ok(p) => p,
                Err(e) => {
                    // Go on from this page next time.
                    cursor.resume_url = url.map(String::from);
                    cursor.resume_newest = top;
                    return Ok(Walk {
                        candidates,
                        cursor,
                        pages,
                        stopped: Some(e),
                    });
                }
            };
            pages += 1;
            if let Some(first) = page.deliveries.first() {
                top = Some(top.map_or(first.id, |t| t.max(first.id)));
            }
            let mut failed = Vec::new();
            for d in page.deliveries {
                let old = d.delivered_at.is_some_and(|t| t < now - LOOKBACK);
                if mark.is_some_and(|m| d.id <= m) || old {
                    complete = true;
                    break;
                }
                if !d.succeeded() && guids.insert(d.guid.clone()) {
                    failed.push(d);
                }
            }
            let names: Vec<String> = failed.iter().map(|d| d.guid.clone()).collect();
            let stored = redeliveries::stored_guids(&h.db, &names).await?;
            candidates.extend(failed.into_iter().filter(|d| !stored.contains(&d.guid)));
            match page.next {
                Some(next) if !complete => url = Some(next),
                _ => {
                    complete = true;
                    break;
                }
            }
        }
        if !complete {
            // A bound was reached: the next pass goes on from the page not read yet.
            cursor.resume_url = url.map(String::from);
            cursor.resume_newest = top;
            break;
        }
        cursor = Cursor {
            newest_seen: top.or(mark),
            resume_url: None,
            resume_newest: None,
        };
        // A finished backlog: what arrived since it began is read now, budget permitting.
        if !resuming || pages >= MAX_PAGES || candidates.len() >= MAX_REDELIVERIES {
            break;
        }
    }
    Ok(Walk {
        candidates,
        cursor,
        pages,
        stopped: None,
    })
}
