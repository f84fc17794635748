//! The feed as Server-Sent Events: each change is an event `change` whose id is its cursor, so a
//! client that reconnects with `Last-Event-ID` resumes after the last change it received.
use std::{convert::Infallible, sync::Arc, time::Duration};

use actix_web_lab::sse::{self, Sse};
use futures_util::Stream;
use tokio::{sync::mpsc, time::Instant};

use super::{super::openapi::GoneBody, ChangeView};
use crate::{
    http::{
        stream_access::{recheck, Grant},
        AppState,
    },
    ids::ProjectId,
    progress,
    store::{changes, scoped},
};

/// Events buffered per client: a slow reader holds back its own stream only.
const CLIENT_BUFFER: usize = 64;
const RETRY: Duration = Duration::from_secs(3);

pub fn open(
    state: Arc<AppState>,
    mut after: i64,
    project: Option<ProjectId>,
    grant: Grant,
    limit: u64,
) -> Sse<impl Stream<Item = Result<sse::Event, Infallible>>> {
    let keep_alive = state.config.sse_keep_alive;
    let subscriber = state.metrics.sse_subscriber();
    let (tx, rx) = mpsc::channel::<sse::Event>(CLIENT_BUFFER);
    let mut live = state.hub.subscribe();
    let mut recheck = recheck(keep_alive);
    tokio::spawn(async move {
        loop {
            let page = match scoped::changes(&state.db, &grant.scope, after, project, limit).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the change feed failed");
                    return;
                }
            };
            match changes::horizon(&state.db).await {
                Ok(h) if after < h => {
                    let gone = GoneBody {
                        error: "the cursor is older than the change feed's retention: resync"
                            .into(),
                        oldest_cursor: h.to_string(),
                    };
                    let data = serde_json::to_string(&gone).unwrap_or_default();
                    let _ = tx.send(sse::Data::new(data).event("gone").into()).await;
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading the change feed's horizon failed");
                    return;
                }
            }
            let full = page.rows.len() as u64 == limit;
            for row in page.rows {
                let id = row.id.to_string();
                let data = match serde_json::to_string(&ChangeView::from(row)) {
                    Ok(d) => d,
                    Err(_) => return,
                };
                let ev = sse::Data::new(data).event("change").id(id);
                if tx.send(ev.into()).await.is_err() {
                    return;
                }
            }
            after = page.next;
            if full {
                continue;
            }
            if state.shutdown.is_cancelled() || tx.is_closed() {
                return;
            }
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                _ = progress::until_success(&state.hub, &mut live, project, far, &state.shutdown) => {}
                _ = recheck.tick() => if !grant.holds(&state).await {
                    return;
                },
            }
        }
    });
    Sse::from_infallible_stream(crate::http::sse::counted(rx, subscriber))
        .with_keep_alive(keep_alive)
        .with_retry_duration(RETRY)
}
