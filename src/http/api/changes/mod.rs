//! `GET /api/v1/changes`: the change feed, as JSON pages (long-polling with `wait`) or, with
//! `Accept: text/event-stream`, as a stream that resumes from `Last-Event-ID`.
mod stream;

use std::time::Duration;

use actix_web::{get, http::header, web, HttpRequest, HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use crate::{
    http::{viewer::Viewer, ApiError, AppState},
    progress,
    store::{changes, entities::changes::Model as ChangeRow},
};

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;
/// The longest a request may wait for a change.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    after: Option<String>,
    limit: Option<u64>,
    project_id: Option<i64>,
    wait: Option<f64>,
}

/// One change as consumers read it; absent values are left out.
#[derive(Serialize)]
pub struct ChangeView {
    pub cursor: String,
    pub project_id: i64,
    pub repository: String,
    pub branch: String,
    pub run_id: i64,
    pub commit_sha: String,
    pub path: String,
    pub change: String,
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
pub fn parse_cursor(raw: &str, what: &str) -> Result<i64, ApiError> {
    let raw = raw.trim();
    raw.parse::<i64>()
        .ok()
        .filter(|c| *c >= 0 && raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ApiError::BadRequest(format!("{what} {raw:?} is not a change cursor")))
}

/// 410: the changes after this cursor were pruned; the consumer must resync from a snapshot.
pub fn gone(after: i64, horizon: i64) -> HttpResponse {
    HttpResponse::Gone().json(json!({
        "error": format!(
            "cursor {after} is older than the change feed's retention: resync (read the files), \
             then follow the feed from oldest_cursor"
        ),
        "oldest_cursor": horizon.to_string(),
    }))
}

#[get("/changes")]
async fn feed(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    // A signed-in user reads the feed of a project they can see, one at a time.
    if !viewer.is_admin() {
        match q.project_id {
            Some(id) => {
                viewer.project(&state, id).await?;
            }
            None => {
                return Err(ApiError::BadRequest(
                    "pass project_id: a user signed in with GitHub reads one project's feed at a \
                     time"
                        .into(),
                ))
            }
        }
    }
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
        let sse = stream::open(state.into_inner(), start, q.project_id, limit);
        return Ok(sse.respond_to(&req).map_into_boxed_body());
    }

    // Subscribe before the first read, so a change committed right after it wakes the wait.
    let mut live = state.hub.subscribe();
    let deadline = Instant::now() + wait;
    let mut after = after;
    loop {
        let start = match after {
            Some(a) => a,
            None => changes::horizon(&state.db).await?,
        };
        let page = changes::page(&state.db, start, q.project_id, limit).await?;
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
            return Ok(HttpResponse::Ok().json(json!({
                "changes": changes,
                "next_cursor": page.next.to_string(),
            })));
        }
        after = Some(page.next);
        progress::until_success(
            &state.hub,
            &mut live,
            q.project_id,
            deadline,
            &state.shutdown,
        )
        .await;
    }
}
