//! Server-Sent Events: a project's progress (or everyone's, for dashboards), live, with replay
//! from `Last-Event-ID` so a reconnecting client misses nothing and sees nothing twice.
use std::{collections::VecDeque, sync::Arc, time::Duration};

use actix_web::{get, web, HttpRequest, HttpResponse};
use actix_web_lab::sse;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{
    broadcast::{self, error::RecvError},
    mpsc,
};

use super::{
    api::views::BranchView,
    auth::Caller,
    event_stream,
    stream_access::{recheck, Grant},
    ApiError, AppState,
};
use crate::{ids::ProjectId, metrics::SubscriberGuard, progress, store::scoped};

const RETRY: Duration = Duration::from_secs(3);
/// Rows replayed per query. A client that falls behind the hub's buffer (its socket full) is
/// caught up from the table a page at a time, as a reconnecting one is.
const REPLAY_PAGE: u64 = 500;
/// How long a fresh stream waits for the hub to publish what was committed before it opened.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(1);

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReplayQuery {
    /// Resume after this event id (the `Last-Event-ID` header wins).
    last_event_id: Option<String>,
}

#[get("/projects/{id}/events")]
async fn project_events(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    req: HttpRequest,
    q: web::Query<ReplayQuery>,
) -> Result<HttpResponse, ApiError> {
    let project = super::api::projects::find_for(&state, &caller, *id).await?;
    let after = last_event_id(&req, &q)?;
    let grant = Grant::new(&state, caller, Some(project.project.id), None).await?;
    Ok(open(state.into_inner(), grant, after))
}

/// Every project's progress events (snapshot, queued, started, progress, succeeded, failed...).
/// Registered inside the /api/v1 scope.
#[utoipa::path(
    tag = "events",
    params(ReplayQuery),
    responses(
        (status = 200, description = "Server-Sent Events; each `id:` is the event id",
         content_type = "text/event-stream", body = super::api::openapi::EventStream),
        (status = 400, description = "Last-Event-ID is not an event id", body = super::api::openapi::ErrorBody),
    )
)]
#[get("/events")]
async fn all_events(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ReplayQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = last_event_id(&req, &q)?;
    // A token limited to one project follows that project's events only; a signed-in user's
    // stream carries the projects they could see when it opened.
    let visible = caller.visible_ids(&state).await?;
    let project = caller.only_project();
    let grant = Grant::new(&state, caller, project, visible).await?;
    Ok(open(state.into_inner(), grant, after))
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

/// A stream of the grant's project's events (or every one it sees): replayed after `after` when
/// given, else a snapshot first; then live, until the grant no longer holds. It is the response
/// body itself, polled by the connection's task: no task, channel or rendering of its own per
/// subscriber (see `Source`).
fn open(state: Arc<AppState>, grant: Grant, after: Option<i64>) -> HttpResponse {
    // Subscribe before asking the hub how far it got, so nothing falls between replay and live.
    let live = state.hub.subscribe();
    let keep_alive = state.config.sse_keep_alive;
    let source = Source {
        _subscriber: state.metrics.sse_subscriber(),
        state,
        grant,
        recheck: recheck(keep_alive),
        live,
        high: 0,
        queued: VecDeque::new(),
        phase: match after {
            Some(after) => Phase::CatchUp { after, upto: None },
            None => Phase::Snapshot,
        },
    };
    let events = futures_util::stream::unfold(source, Source::next);
    event_stream::response(Box::pin(events), keep_alive, RETRY)
}

/// The stream a response sends, counted in `hubsync_sse_subscribers` until the response is
/// dropped (the client went away, or the server stops).
pub(crate) fn counted(
    rx: mpsc::Receiver<sse::Event>,
    subscriber: SubscriberGuard,
) -> impl futures_util::Stream<Item = sse::Event> {
    futures_util::stream::unfold((rx, subscriber), |(mut rx, subscriber)| async move {
        let ev = rx.recv().await?;
        Some((ev, (rx, subscriber)))
    })
}

/// What a subscriber's stream reads from: the table (snapshot, replay, catching up after it fell
/// behind the hub's buffer), then the hub's broadcast, whose messages are rendered once.
struct Source {
    /// Counts this stream in `hubsync_sse_subscribers` while it lives.
    _subscriber: SubscriberGuard,
    state: Arc<AppState>,
    /// The caller, its scope (every table read is in it), its project and visible projects.
    grant: Grant,
    /// Re-checks the grant once per keep-alive period while live.
    recheck: tokio::time::Interval,
    live: broadcast::Receiver<progress::Event>,
    /// The newest event id sent (or reflected in the snapshot).
    high: i64,
    /// Messages read from the table, not sent yet.
    queued: VecDeque<Bytes>,
    phase: Phase,
}

enum Phase {
    Snapshot,
    /// Replaying rows after `after` up to `upto` (what the hub had published when it began).
    CatchUp {
        after: i64,
        upto: Option<i64>,
    },
    Live,
}

impl Source {
    /// The next message, or None when the stream ends (shutdown, the table cannot be read, or
    /// the grant no longer holds).
    async fn next(mut self) -> Option<(Bytes, Self)> {
        loop {
            if let Some(message) = self.queued.pop_front() {
                return Some((message, self));
            }
            match self.phase {
                // Boxed: the table's futures are large, and the stream keeps the live one
                // between events for every subscriber.
                Phase::Snapshot => Box::pin(self.snapshot()).await?,
                Phase::CatchUp { after, upto } => Box::pin(self.catch_up(after, upto)).await?,
                Phase::Live => {
                    let received = tokio::select! {
                        r = self.live.recv() => r,
                        _ = self.recheck.tick() => match Box::pin(self.grant.holds(&self.state)).await {
                            true => continue,
                            false => return None,
                        },
                        _ = self.state.shutdown.cancelled() => return None,
                    };
                    match received {
                        Ok(ev) => {
                            if ev.id <= self.high || !self.grant.shows(ev.project_id) {
                                continue;
                            }
                            self.high = ev.id;
                            return Some((ev.frame.clone(), self));
                        }
                        // Fell behind the hub's buffer: read what was missed from the table.
                        Err(RecvError::Lagged(_)) => {
                            self.live = self.state.hub.subscribe();
                            self.phase = Phase::CatchUp {
                                after: self.high,
                                upto: None,
                            };
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        }
    }

    async fn snapshot(&mut self) -> Option<()> {
        match snapshot(&self.state, &self.grant).await {
            Ok((id, data)) => {
                self.queued.push_back(message("snapshot", id, &data));
                self.high = id;
                self.phase = Phase::Live;
                Some(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "SSE snapshot failed");
                None
            }
        }
    }

    /// Queues a page of the stored events after `after` up to what the hub had published when
    /// the catch-up began (it runs after subscribing: later events come live).
    async fn catch_up(&mut self, after: i64, upto: Option<i64>) -> Option<()> {
        let upto = upto.unwrap_or_else(|| self.state.hub.published());
        let project = self.grant.project.map(ProjectId);
        let page = scoped::events(
            &self.state.db,
            &self.grant.scope,
            project,
            after,
            upto,
            REPLAY_PAGE,
        )
        .await
        .ok()?;
        let full = page.read == REPLAY_PAGE as usize;
        let last = page.last;
        self.queued.extend(
            page.rows
                .iter()
                .filter(|r| self.grant.shows(r.project_id))
                .filter_map(progress::Published::from_row)
                .map(|ev| ev.frame),
        );
        self.phase = match (full, last) {
            (true, Some(last)) => Phase::CatchUp {
                after: last,
                upto: Some(upto),
            },
            _ => {
                self.high = self.high.max(after).max(upto);
                Phase::Live
            }
        };
        Some(())
    }
}

/// One SSE message; `data` is compact JSON, so it is one line.
fn message(event: &str, id: i64, data: &str) -> Bytes {
    format!("event: {event}\nid: {id}\ndata: {data}\n\n").into()
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
async fn snapshot(state: &AppState, grant: &Grant) -> Result<(i64, String), sea_orm::DbErr> {
    // Read after subscribing (see `open`): the events after it come live.
    let id = state.hub.caught_up(&state.db, SNAPSHOT_WAIT).await;
    let records = match grant.project {
        Some(p) => scoped::project(&state.db, &grant.scope, p)
            .await?
            .into_iter()
            .collect(),
        None => scoped::projects(&state.db, &grant.scope).await?,
    };
    let projects: Vec<ProjectSnapshot> = records
        .iter()
        .filter(|p| grant.shows(p.project.id))
        .map(|p| ProjectSnapshot {
            project_id: p.project.id,
            branches: p.selections.iter().map(BranchView::from).collect(),
        })
        .collect();
    let data = match grant.project {
        Some(_) => serde_json::to_string(&projects.into_iter().next()),
        None => serde_json::to_string(&AllSnapshot { projects }),
    };
    Ok((id, data.expect("a snapshot serializes")))
}
