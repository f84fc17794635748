//! Waiting for a run to succeed, for requests that long-poll (the change feed, wait-until-synced):
//! woken by the hub, which publishes a `succeeded` event once its transaction (the manifest swap,
//! its changes) committed, on this replica or another.
use std::time::Duration;

use tokio::{
    sync::broadcast::{error::RecvError, Receiver},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{hub::Hub, Event, ProgressEvent};
use crate::ids::ProjectId;

/// Looks again after this even if no event came (a missed wake-up costs this much latency).
const FALLBACK: Duration = Duration::from_secs(5);

/// Returns when a run of `project` (any project when None) succeeded, at `deadline`, after the
/// fallback interval, or at shutdown. Subscribe before reading what the caller waits on.
pub async fn until_success(
    hub: &Hub,
    live: &mut Receiver<Event>,
    project: Option<ProjectId>,
    deadline: Instant,
    shutdown: &CancellationToken,
) {
    let until = deadline.min(Instant::now() + FALLBACK);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(until) => return,
            r = live.recv() => match r {
                Ok(ev) if matches!(ev.event, ProgressEvent::Succeeded { .. })
                    && project.is_none_or(|p| p.0 == ev.project_id) => return,
                Ok(_) => {}
                // Missed some: whatever they were, look again.
                Err(RecvError::Lagged(_)) => {
                    *live = hub.subscribe();
                    return;
                }
                Err(RecvError::Closed) => {
                    tokio::time::sleep_until(until).await;
                    return;
                }
            },
        }
    }
}
