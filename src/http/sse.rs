//! Server-Sent Events: a project's progress (or everyone's, for dashboards), live, with replay
//! from `Last-Event-ID` so a reconnecting client misses nothing and sees nothing twice.
use std::{collections::HashSet, sync::Arc, time::Duration};

use actix_web::{get, web, HttpRequest};
use actix_web_lab::sse::{self, Sse};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast::error::RecvError, mpsc};

use super::{api::views::BranchView, viewer::Viewer, ApiError, AppState};
use crate::{progress, store::projects};

const RETRY: Duration = Duration::from_secs(3);
/// Events buffered per client; a client that falls further behind is dropped and, when it
/// reconnects with `Last-Event-ID`, replayed from the table.
const CLIENT_BUFFER: usize = 64;
const REPLAY_PAGE: u64 = 500;
/// How long a fresh stream waits for the hub to publish what was committed before it opened.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayQuery {
    last_event_id: Option<String>,
}

#[get("/projects/{id}/events")]
async fn project_events(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    q: web::Query<ReplayQuery>,
) -> Result<
    Sse<impl futures_util::Stream<Item = Result<sse::Event, std::convert::Infallible>>>,
    ApiError,
> {
    let project = viewer.project(&state, *id).await?;
    let after = last_event_id(&req, &q)?;
    Ok(open(
        state.into_inner(),
        Some(project.project.id),
        None,
        after,
    ))
}

/// Registered inside the /api/v1 scope.
#[get("/events")]
async fn all_events(
    viewer: Viewer,
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ReplayQuery>,
) -> Result<
    Sse<impl futures_util::Stream<Item = Result<sse::Event, std::convert::Infallible>>>,
    ApiError,
> {
    let after = last_event_id(&req, &q)?;
    // A signed-in user's stream carries the projects they could see when it opened.
    let visible = viewer.visible_ids(&state).await?.map(Arc::new);
    Ok(open(state.into_inner(), None, visible, after))
}

fn last_event_id(req: &HttpRequest, q: &ReplayQuery) -> Result<Option<i64>, ApiError> {
    let header = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match header.or_else(|| q.last_event_id.clone()) {
        None => Ok(None),
        Some(raw) if raw.trim().is_empty() => Ok(None),
        Some(raw) => {
            raw.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::BadRequest(format!("Last-Event-ID {raw:?} is not an event id"))
            })
        }
    }
}

/// Only these projects' events, when set.
type Visible = Option<Arc<HashSet<i64>>>;

fn open(
    state: Arc<AppState>,
    project: Option<i64>,
    visible: Visible,
    after: Option<i64>,
) -> Sse<impl futures_util::Stream<Item = Result<sse::Event, std::convert::Infallible>>> {
    // Subscribe before asking the hub how far it got, so nothing falls between replay and live.
    let mut live = state.hub.subscribe();
    let keep_alive = state.config.sse_keep_alive;
    let (tx, rx) = mpsc::channel::<sse::Event>(CLIENT_BUFFER);
    tokio::spawn(async move {
        let mut high = match after {
            Some(after) => match catch_up(&state, project, &visible, after, &tx).await {
                Some(high) => high,
                None => return,
            },
            None => match snapshot(&state, project, &visible).await {
                Ok((id, data)) => {
                    let event = sse::Data::new(data).event("snapshot").id(id.to_string());
                    if tx.send(event.into()).await.is_err() {
                        return;
                    }
                    id
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SSE snapshot failed");
                    return;
                }
            },
        };
        loop {
            let received = tokio::select! {
                r = live.recv() => r,
                _ = state.shutdown.cancelled() => return,
            };
            let ev = match received {
                Ok(ev) => ev,
                // Fell behind the hub's buffer: read what was missed from the table instead.
                Err(RecvError::Lagged(_)) => {
                    live = state.hub.subscribe();
                    match catch_up(&state, project, &visible, high, &tx).await {
                        Some(h) => high = h,
                        None => return,
                    }
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if ev.id <= high
                || project.is_some_and(|p| p != ev.project_id)
                || !shown(&visible, ev.project_id)
            {
                continue;
            }
            high = ev.id;
            if tx.send(to_sse(&ev)).await.is_err() {
                return;
            }
        }
    });
    Sse::from_infallible_receiver(rx)
        .with_keep_alive(keep_alive)
        .with_retry_duration(RETRY)
}

/// Sends every stored event after `after` up to what the hub has published (call it after
/// subscribing: later events come live). Returns the id the live stream continues from.
fn shown(visible: &Visible, project_id: i64) -> bool {
    visible.as_ref().is_none_or(|v| v.contains(&project_id))
}

async fn catch_up(
    state: &AppState,
    project: Option<i64>,
    visible: &Visible,
    mut after: i64,
    tx: &mpsc::Sender<sse::Event>,
) -> Option<i64> {
    let upto = state.hub.published();
    let high = after.max(upto);
    loop {
        let rows = progress::replay(&state.db, project, after, upto, REPLAY_PAGE)
            .await
            .ok()?;
        let n = rows.len();
        for row in rows {
            after = row.id;
            if !shown(visible, row.project_id) {
                continue;
            }
            if let Some(ev) = progress::Published::from_row(&row) {
                tx.send(to_sse(&ev)).await.ok()?;
            }
        }
        if n < REPLAY_PAGE as usize {
            return Some(high);
        }
    }
}

fn to_sse(ev: &progress::Published) -> sse::Event {
    sse::Data::new(ev.data.clone())
        .event(ev.kind())
        .id(ev.id.to_string())
        .into()
}

/// The `snapshot` event's data for one project.
#[derive(Serialize)]
struct ProjectSnapshot {
    project_id: i64,
    branches: Vec<BranchView>,
}

/// The `snapshot` event's data for the stream of every project.
#[derive(Serialize)]
struct AllSnapshot {
    projects: Vec<ProjectSnapshot>,
}

/// The state of every selected branch now (rendered), labelled with the newest event id it
/// reflects.
async fn snapshot(
    state: &AppState,
    project: Option<i64>,
    visible: &Visible,
) -> Result<(i64, String), sea_orm::DbErr> {
    // Read after subscribing (see `open`): the events after it come live.
    let id = state.hub.caught_up(&state.db, SNAPSHOT_WAIT).await;
    let records = match project {
        Some(p) => projects::load(&state.db, p).await?.into_iter().collect(),
        None => projects::load_all(&state.db).await?,
    };
    let projects: Vec<ProjectSnapshot> = records
        .iter()
        .filter(|p| shown(visible, p.project.id))
        .map(|p| ProjectSnapshot {
            project_id: p.project.id,
            branches: p.selections.iter().map(BranchView::from).collect(),
        })
        .collect();
    let data = match project {
        Some(_) => serde_json::to_string(&projects.into_iter().next()),
        None => serde_json::to_string(&AllSnapshot { projects }),
    };
    Ok((id, data.expect("a snapshot serializes")))
}
