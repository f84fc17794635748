//! Bursts of deliveries: stored many per commit, each acknowledged by its own answer, then
//! processed; and how the database holds up under them.
use std::time::Duration;

use futures_util::future::join_all;
use hubsync::store::entities::deliveries;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};

use crate::{
    db_test,
    support::{
        spawn_app_with,
        webhooks::{fixture, new_delivery_id, webhook_config},
        TestDb,
    },
};

db_test! {
    async fn a_burst_with_copies_stores_each_delivery_once_and_processes_all(db) {
        let app = spawn_app_with(webhook_config(&db, &[])).await;
        assert_eq!(app.deliver("installation", &new_delivery_id(), &fixture("installation.created")).await.status(), 202);
        let body = fixture("push");
        let ids: Vec<String> = (0..120).map(|_| new_delivery_id()).collect();
        // Every delivery twice, all at once: copies land in the same batch or in different ones.
        let sends = ids.iter().chain(ids.iter()).map(|id| app.deliver("push", id, &body));
        let responses = join_all(sends).await;
        for (i, id) in ids.iter().enumerate() {
            let pair = [responses[i].status().as_u16(), responses[i + ids.len()].status().as_u16()];
            let mut sorted = pair;
            sorted.sort();
            assert_eq!(sorted, [200, 202], "{id}: one copy stored, the other a duplicate: {pair:?}");
        }
        assert_eq!(deliveries::Entity::find().count(&app.app.db).await.unwrap(), 121);
        for id in &ids {
            let d = app.processed(id).await;
            assert_eq!((d.status.as_str(), d.attempts), ("processed", 1), "{id}: {:?}", d.error);
        }
        if db.engine == "postgres" {
            // Payloads are compressed with lz4 (store::connect), where the server has it.
            let row = app.app.db.query_one_raw(Statement::from_string(
                app.app.db.get_database_backend(),
                "SELECT pg_column_compression(payload) AS c FROM deliveries WHERE event = 'push' LIMIT 1",
            )).await.unwrap().unwrap();
            assert_eq!(row.try_get::<Option<String>>("", "c").unwrap().as_deref(), Some("lz4"));
        }
        app.stop().await;
    }
}

/// SQLite's automatic checkpoint is off; without store::checkpoint the database file would not
/// grow while the service runs, everything staying in the write-ahead log.
#[tokio::test]
async fn sqlite_checkpoints_the_log_into_the_database_while_serving() {
    let db = TestDb::sqlite().await;
    let file = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
    let app = spawn_app_with(webhook_config(
        &db,
        &[("HUBSYNC_WEBHOOK_PROCESSING", "off")],
    ))
    .await;
    let before = std::fs::metadata(&file).unwrap().len();
    let body = fixture("push");
    for chunk in 0..10 {
        let ids: Vec<String> = (0..50).map(|_| new_delivery_id()).collect();
        let sends = ids.iter().map(|id| app.deliver("push", id, &body));
        for r in join_all(sends).await {
            assert_eq!(r.status(), 202, "chunk {chunk}");
        }
    }
    let stored = 500 * body.len() as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = std::fs::metadata(&file).unwrap().len();
        if now >= before + stored {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the database file stayed at {now} bytes (from {before}) after {stored} bytes of deliveries"
        );
        // Kept: the WAL reaches the file at a checkpoint, which nothing announces.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
