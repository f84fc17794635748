//! SQLite only: checkpoints the write-ahead log from a connection of its own. SQLite's automatic
//! checkpoint runs inside whichever commit crosses 1,000 WAL pages, so that commit, and every
//! request queued behind the one writer, waited 15-20 ms for it under a burst of webhooks. A
//! passive checkpoint from here copies pages into the database while writes go on. It still
//! slowed the commits beside it (its fsyncs hold up the growing log's appends: requests stalled
//! 15-25 ms every checkpoint during a burst), so it waits while a burst of webhooks is being
//! stored, for at most `MAX_DEFER`.
use std::{str::FromStr, time::Duration};

use sea_orm::sqlx::{
    sqlite::{SqliteConnectOptions, SqliteConnection},
    ConnectOptions, Connection, Row,
};
use tokio_util::sync::CancellationToken;

/// Often enough that the log stays small and is restarted between a sync's transactions
/// (every second, a 10,000-file initial sync took 2.1 s instead of 1.7 s).
const EVERY: Duration = Duration::from_millis(200);
/// A burst never holds checkpoints off longer than this: some 140 MiB of log at the fastest
/// ingestion measured, under `RESTART_PAGES` (at 2 s the restart paused writes for 0.45 s).
const MAX_DEFER: Duration = Duration::from_secs(1);
/// Past this many WAL pages (256 MiB of 4 KiB pages) a checkpoint also makes the next writer
/// start the log from the beginning, pausing writes (0.3-0.5 s under a sustained burst of
/// webhooks): a log that writes never let up on would otherwise grow without bound.
const RESTART_PAGES: i64 = 65_536;

/// Runs until `shutdown` is cancelled; the pool's automatic checkpoint is off (`store::connect`).
/// `busy` says whether to put the next checkpoint off.
pub async fn run(url: String, busy: impl Fn() -> bool, shutdown: CancellationToken) {
    let mut conn = match connect(&url).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the SQLite checkpoint connection; the WAL will grow until restart");
            return;
        }
    };
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
        if busy() && last.elapsed() < MAX_DEFER {
            continue;
        }
        last = tokio::time::Instant::now();
        if let Err(e) = checkpoint(&mut conn).await {
            tracing::warn!(error = %e, "SQLite checkpoint failed; trying again");
        }
    }
    let _ = checkpoint(&mut conn).await;
    let _ = conn.close().await;
}

async fn connect(url: &str) -> Result<SqliteConnection, sea_orm::sqlx::Error> {
    SqliteConnectOptions::from_str(url)?
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
}

async fn checkpoint(conn: &mut SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    let row = sea_orm::sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *conn)
        .await?;
    let log_pages: i64 = row.try_get(1)?;
    if log_pages > RESTART_PAGES {
        sea_orm::sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .fetch_one(&mut *conn)
            .await?;
    }
    Ok(())
}
