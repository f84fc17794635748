//! SQLite only: checkpoints the write-ahead log from a connection of its own. SQLite's automatic
//! checkpoint runs inside whichever commit crosses 1,000 WAL pages, so that commit, and every
//! request queued behind the one writer, waited 15-20 ms for it under a burst of webhooks. A
//! passive checkpoint from here copies pages into the database while writes go on. It still
//! slowed the commits beside it (its fsyncs hold up the growing log's appends: requests stalled
//! 15-25 ms every checkpoint during a burst), so it waits while a burst of webhooks is being
//! stored, for at most `MAX_DEFER`.
//!
//! The log restarts from its beginning only when a write begins with every frame copied, and
//! under sustained writes a checkpoint beside them never gets there: each leaves the frames
//! written while it ran. The log then grew by ~100 MB a second until a RESTART checkpoint at
//! 256 MiB paused every write for 0.3-1 s (the p99 of a sustained 64-sender load was 0.7-1.2 s).
//! So a checkpoint repeats, each pass copying what the previous one left, until what is left is
//! small; then it copies that with the pool's one connection held, so no write comes in between,
//! and the next write restarts the log. Writes wait for that last pass only.
use std::{str::FromStr, time::Duration};

use sea_orm::{
    sqlx::{
        sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool},
        ConnectOptions, Connection, Row,
    },
    DatabaseConnection,
};
use tokio_util::sync::CancellationToken;

/// Often enough that the log stays small and is restarted between a sync's transactions
/// (every second, a 10,000-file initial sync took 2.1 s instead of 1.7 s).
const EVERY: Duration = Duration::from_millis(200);
/// A burst never holds checkpoints off longer than this.
const MAX_DEFER: Duration = Duration::from_secs(1);
/// The last pass, with writes held, copies at most this many pages (1 MiB of 4 KiB pages).
const FINISH_PAGES: i64 = 256;
/// Passes beside the writers before giving up on restarting the log this time.
const PASSES: usize = 8;
/// Past this many WAL pages (256 MiB) a checkpoint makes the next writer start the log from the
/// beginning whatever it costs (RESTART waits for writes and pauses them): a last resort for
/// writes faster than the disk, where the passes above never catch up.
const RESTART_PAGES: i64 = 65_536;

/// Runs until `shutdown` is cancelled; the pool's automatic checkpoint is off (`store::connect`).
/// `busy` says whether to put the next checkpoint off.
pub async fn run(
    url: String,
    db: DatabaseConnection,
    busy: impl Fn() -> bool,
    shutdown: CancellationToken,
) {
    let mut conn = match connect(&url).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the SQLite checkpoint connection; the WAL will grow until restart");
            return;
        }
    };
    let pool = db.get_sqlite_connection_pool();
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
        if let Err(e) = checkpoint(&mut conn, pool).await {
            tracing::warn!(error = %e, "SQLite checkpoint failed; trying again");
        }
    }
    let _ = checkpoint(&mut conn, pool).await;
    let _ = conn.close().await;
}

async fn connect(url: &str) -> Result<SqliteConnection, sea_orm::sqlx::Error> {
    SqliteConnectOptions::from_str(url)?
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
}

/// Frames in the log and frames copied into the database, after a passive checkpoint.
async fn passive(conn: &mut SqliteConnection) -> Result<(i64, i64), sea_orm::sqlx::Error> {
    let row = sea_orm::sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *conn)
        .await?;
    Ok((row.try_get(1)?, row.try_get(2)?))
}

async fn checkpoint(
    conn: &mut SqliteConnection,
    pool: &SqlitePool,
) -> Result<(), sea_orm::sqlx::Error> {
    let started = std::time::Instant::now();
    let mut copied = 0;
    let mut log = 0;
    for pass in 0..PASSES {
        let before = copied;
        (log, copied) = passive(conn).await?;
        if log == 0 {
            // The log was restarted since the last checkpoint: nothing to copy.
            return Ok(());
        }
        if pass > 0 && copied == before && copied == log {
            // Nothing written since the previous pass: the next write restarts the log.
            return Ok(());
        }
        // What this pass found left by the previous one (or the whole log, first): about what
        // was written while the previous one ran.
        if pass > 0 && copied - before <= FINISH_PAGES {
            let held = std::time::Instant::now();
            // The pool's one connection: every write waits behind this pass, none comes in.
            let writer = pool.acquire().await?;
            let (log, copied) = passive(conn).await?;
            drop(writer);
            tracing::debug!(
                passes = pass + 2,
                log_pages = log,
                copied,
                ms = started.elapsed().as_millis() as u64,
                held_ms = held.elapsed().as_millis() as u64,
                "checkpoint finished with writes held"
            );
            return Ok(());
        }
    }
    tracing::debug!(
        log_pages = log,
        copied,
        ms = started.elapsed().as_millis() as u64,
        "checkpoint did not catch up with the writes"
    );
    if log > RESTART_PAGES {
        let started = std::time::Instant::now();
        sea_orm::sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .fetch_one(&mut *conn)
            .await?;
        tracing::info!(
            log_pages = log,
            ms = started.elapsed().as_millis() as u64,
            "SQLite log restarted with writes paused (writes outpace the checkpoints)"
        );
    }
    Ok(())
}
