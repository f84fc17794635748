//! `GET /api/v1/changes`: the change feed, as JSON pages (long-polling with `wait`) or, with
//! `Accept: text/event-stream`, as a stream that resumes from `Last-Event-ID`.
mod stream;

use std::time::Duration;

use actix_web::{get, http::header, web, HttpRequest, HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use utoipa::{IntoParams, ToSchema};

use super::openapi::{ErrorBody, EventStream, GoneBody};
use crate::ids::ProjectId;
use crate::{
    git::{BranchName, Sha},
    http::{auth::Caller, stream_access::Grant, ApiError, AppState},
    progress,
    store::{changes, entities::changes::Model as ChangeRow, scoped},
};

pub(crate) const DEFAULT_LIMIT: u64 = 100;
pub(crate) const MAX_LIMIT: u64 = 1000;
/// The longest a request may wait for a change.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FeedQuery {
    /// The cursor to read after (omitted: the oldest kept entry).
    after: Option<String>,
    /// Entries per page (default 100, at most 1000).
    limit: Option<u64>,
    /// Only this project's entries (the cursor still moves past others').
    project_id: Option<i64>,
    /// Seconds (at most 60) to hold an empty answer until a run commits changes.
    wait: Option<f64>,
}

/// A page of the feed.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChangePage {
    pub changes: Vec<ChangeView>,
    /// Where the next request reads after.
    pub next_cursor: String,
}

/// One change as consumers read it; absent values are left out.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChangeView {
    pub cursor: String,
    pub project_id: i64,
    pub repository: String,
    pub branch: BranchName,
    pub run_id: i64,
    pub commit_sha: Sha,
    pub path: String,
    pub change: changes::ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_blob_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

impl From<ChangeRow> for ChangeView {
    fn from(r: ChangeRow) -> Self {
        Self {
            cursor: r.id.to_string(),
            project_id: r.project_id,
            repository: r.repository,
            branch: r.branch,
            run_id: r.run_id,
            commit_sha: r.commit_sha,
            path: r.path,
            change: r.change,
            previous_path: r.previous_path,
            blob_sha: r.blob_sha,
            previous_blob_sha: r.previous_blob_sha,
            size: r.size,
            mode: r.mode,
        }
    }
}

/// A cursor is the decimal id of a change (0: before the first).
pub(crate) fn parse_cursor(raw: &str, what: &str) -> Result<i64, ApiError> {
    let raw = raw.trim();
    raw.parse::<i64>()
        .ok()
        .filter(|c| *c >= 0 && raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ApiError::BadRequest(format!("{what} {raw:?} is not a change cursor")))
}

/// 410: the changes after this cursor were pruned; the consumer must resync from a snapshot.
pub fn gone(after: i64, horizon: i64) -> HttpResponse {
    HttpResponse::Gone().json(GoneBody {
        error: format!(
            "cursor {after} is older than the change feed's retention: resync (read the files), \
             then follow the feed from oldest_cursor"
        ),
        oldest_cursor: horizon.to_string(),
    })
}

/// The change feed: one entry per file each successful run changed, in commit order per branch.
#[utoipa::path(
    tag = "changes",
    params(FeedQuery),
    responses(
        (status = 200, description = "A page of changes; with `Accept: text/event-stream` a stream of `change` events whose id is the cursor",
         content(
            (ChangePage = "application/json"),
            (EventStream = "text/event-stream"),
         )),
        (status = 400, description = "A bad cursor, limit or wait", body = ErrorBody),
        (status = 410, description = "The cursor is older than the feed's retention", body = GoneBody),
    )
)]
#[get("/changes")]
async fn feed(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    // A token limited to one project reads that project's changes only; a user signed in with
    // GitHub reads one project they can see at a time.
    let project_id = caller
        .feed_project(&state, q.project_id)
        .await?
        .map(ProjectId);
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(ApiError::BadRequest("limit must be at least 1".into())),
        Some(n) => n.min(MAX_LIMIT),
    };
    let wait = match q.wait {
        None => Duration::ZERO,
        Some(w) if w.is_finite() && w >= 0.0 => Duration::from_secs_f64(w).min(MAX_WAIT),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "wait must be a number of seconds (at most 60)".into(),
            ))
        }
    };
    let event_stream = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty() && event_stream);
    let after = match last_event_id.or(q.after.as_deref()) {
        Some(raw) => Some(parse_cursor(raw, "after")?),
        None => None,
    };
    if event_stream {
        let horizon = changes::horizon(&state.db).await?;
        let start = after.unwrap_or(horizon);
        if start < horizon {
            return Ok(gone(start, horizon));
        }
        let grant = Grant::new(&state, caller, project_id.map(|p| p.0), None).await?;
        let sse = stream::open(state.into_inner(), start, project_id, grant, limit);
        return Ok(sse.respond_to(&req).map_into_boxed_body());
    }

    let scope = caller.scope(&state).await?;
    // Subscribe before the first read, so a change committed right after it wakes the wait.
    let mut live = state.hub.subscribe();
    let deadline = Instant::now() + wait;
    let mut after = after;
    loop {
        let start = match after {
            Some(a) => a,
            None => changes::horizon(&state.db).await?,
        };
        let page = scoped::changes(&state.db, &scope, start, project_id, limit).await?;
        // Read after the page: pruning that ran meanwhile may have taken rows it should hold.
        let horizon = changes::horizon(&state.db).await?;
        if start < horizon {
            if after.is_none() {
                continue;
            }
            return Ok(gone(start, horizon));
        }
        if !page.rows.is_empty() || Instant::now() >= deadline || state.shutdown.is_cancelled() {
            let changes: Vec<ChangeView> = page.rows.into_iter().map(ChangeView::from).collect();
            return Ok(HttpResponse::Ok().json(ChangePage {
                changes,
                next_cursor: page.next.to_string(),
            }));
        }
        after = Some(page.next);
        progress::until_success(&state.hub, &mut live, project_id, deadline, &state.shutdown).await;
    }
}
