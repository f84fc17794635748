//! Cross-replica wake-ups on PostgreSQL: every transaction that writes an event sends
//! `NOTIFY hubsync_events, '<id>'` (delivered when it commits); each replica's tailer LISTENs and
//! then reads by id as usual. The payload only says "rows up to N exist", so a notification lost
//! (say, while the connection was re-established) costs latency, never an event: the tailer also
//! reads on reconnect and on its fallback poll.
use std::{sync::Arc, time::Duration};

use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio_util::sync::CancellationToken;

/// The channel events are announced on.
pub(crate) const CHANNEL: &str = "hubsync_events";

/// What the listener tells the hub it serves (the hub implements it; this file knows no hub).
pub(super) trait Announce {
    /// Whether notifications arrive now (the hub polls less often while they do).
    fn listening(&self, up: bool);
    /// Another process committed events up to `id`.
    fn announced(&self, id: i64);
    /// Something may have been missed: read now.
    fn wake(&self);
}

/// Listens until shutdown, reconnecting with backoff.
pub(super) async fn run(
    options: PgConnectOptions,
    hub: Arc<impl Announce>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let err = match listen(&options, hub.as_ref(), &shutdown).await {
            Ok(()) => return,
            Err(e) => e,
        };
        hub.listening(false);
        hub.wake();
        tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64,
            "listening for progress events from other replicas failed; polling meanwhile");
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn listen(
    options: &PgConnectOptions,
    hub: &(impl Announce + ?Sized),
    shutdown: &CancellationToken,
) -> Result<(), sea_orm::sqlx::Error> {
    // A pool of its own: the listener keeps its connection for as long as it runs.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    hub.listening(true);
    // Rows committed before LISTEN took effect were announced to no one.
    hub.wake();
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            r = listener.try_recv() => r?,
        };
        match received {
            Some(n) => hub.announced(n.payload().parse().unwrap_or(i64::MAX)),
            // The connection dropped and was re-established: anything announced meanwhile is lost.
            None => hub.wake(),
        }
    }
}
